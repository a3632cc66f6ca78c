// Loads a .heapsnapshot with two independent parsers and prints what they found as one JSON
// line on stdout (the C++ integration test heap_snapshot_test.cpp asserts on it):
//   heap-snapshot-toolkit  Chrome DevTools' own loader: node count, total size, statistics
//   @memlab/heap-analysis  memlab's loader: node count, and for the largest ByteArray (a leak)
//                          its retainer path from the GC roots and the retained sizes on it
// Usage: node check_heap_snapshot.mjs FILE
import { createReadStream } from 'node:fs'
import { createRequire } from 'node:module'
import { parse } from 'heap-snapshot-toolkit'

const require = createRequire(import.meta.url)
const file = process.argv[2]
if (!file) {
  console.error('usage: node check_heap_snapshot.mjs FILE')
  process.exit(2)
}

const snapshot = await parse(createReadStream(file, 'utf-8'))
const result = {
  toolkit: {
    node_count: snapshot.nodeCount,
    total_size: snapshot.totalSize,
    statistics: snapshot.getStatistics()
  }
}

// memlab prints progress on stdout: keep stdout for the result line only.
const log = console.log
console.log = (...args) => console.error(...args)
const { getFullHeapFromFile } = require('@memlab/heap-analysis')
const heap = await getFullHeapFromFile(file)
console.log = log

let leak = null
heap.nodes.forEach(node => {
  if (node.type === 'native' && node.name === 'ByteArray' && (!leak || node.self_size > leak.self_size)) leak = node
})
const memlab = { node_count: heap.nodes.length, leak: null }
if (leak) {
  const path = []
  for (let node = leak; node && node.pathEdge; node = node.pathEdge.fromNode) {
    const edge = node.pathEdge
    path.unshift({
      from: edge.fromNode.name,
      from_type: edge.fromNode.type,
      from_id: edge.fromNode.id,
      from_retained_size: edge.fromNode.retainedSize,
      edge: String(edge.name_or_index),
      edge_type: edge.type,
      to: node.name,
      to_type: node.type
    })
  }
  memlab.leak = { id: leak.id, self_size: leak.self_size, retained_size: leak.retainedSize, path }
}
result.memlab = memlab
log(JSON.stringify(result))
