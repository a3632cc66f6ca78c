# Inputs of the worker-pool scenarios (hash.sh, image.sh), made once under
# public/images/bench/ (served by nodus's --root and the Node peer's ROOT; git-ignored by a .gitignore made there):
#   64mib.bin           64 MiB of random bytes       (GET /hash/files)
#   4000x3000.jpg       a 4000x3000 JPEG, q90        (GET /image/files), made by sharp
# Also installs the Node peer's pinned dependencies (sharp) with `npm ci` if missing.
bench_inputs() {
  local dir="$REPO_DIR/public/images/bench"
  mkdir -p "$dir"
  [[ -f $dir/.gitignore ]] || echo '*' >"$dir/.gitignore"  # generated: keep out of git
  if [[ ! -d $LT_DIR/peers/node_modules/sharp ]]; then
    (cd "$LT_DIR/peers" && npm ci --no-audit --no-fund >/dev/null) || die "npm ci in loadtest/peers failed"
  fi
  [[ -s $dir/64mib.bin ]] || head -c $((64 << 20)) /dev/urandom >"$dir/64mib.bin"
  cache_as_read "$dir/64mib.bin"
  if [[ ! -s $dir/4000x3000.jpg ]]; then
    (cd "$LT_DIR/peers" && node -e "
      const sharp = require('sharp');
      // A photo-like mix of gradients and noise: JPEG has real work to do.
      sharp({ create: { width: 4000, height: 3000, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
        .composite([{ input: Buffer.from('<svg width=\"4000\" height=\"3000\"><defs><linearGradient id=\"g\"><stop offset=\"0\" stop-color=\"#103050\"/><stop offset=\"1\" stop-color=\"#f0c070\"/></linearGradient></defs><rect width=\"4000\" height=\"3000\" fill=\"url(#g)\" opacity=\"0.7\"/></svg>') }])
        .jpeg({ quality: 90 }).toFile('$dir/4000x3000.jpg').catch((e) => { console.error(e); process.exit(1); });
    ") || die "could not make $dir/4000x3000.jpg"
  fi
}

# cache_as_read FILE — drop FILE from the page cache and read it back in, so it is cached the
# way a file read from disk is (readahead: large folios), whatever wrote it. The cache left by
# the writer (`head -c` above: 4 KiB writes) made every pread of it ~12% slower, for every
# server alike, and varied with the file's history.
cache_as_read() {
  dd if="$1" iflag=nocache count=0 status=none 2>/dev/null || true
  cat "$1" >/dev/null
}
