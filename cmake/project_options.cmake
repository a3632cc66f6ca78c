# Warnings and sanitizers as INTERFACE targets, linked PRIVATE by every nodus target.
add_library(nodus_warnings INTERFACE)
add_library(nodus::warnings ALIAS nodus_warnings)
target_compile_options(nodus_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough
  $<$<BOOL:${NODUS_WARNINGS_AS_ERRORS}>:-Werror>)
# Not -Wnull-dereference: at -O2 GCC 12 reports it inside Asio's inlined code (false
# positives in system headers that no pragma in our code can reach).

add_library(nodus_sanitizers INTERFACE)
add_library(nodus::sanitizers ALIAS nodus_sanitizers)
if(NODUS_SANITIZE)
  # GCC 12 under the sanitizers: false -Wmaybe-uninitialized inside Asio, and -Wtsan on the
  # std::atomic_thread_fence in Asio's std_fenced_block (TSan cannot model fences).
  target_compile_options(nodus_warnings INTERFACE -Wno-maybe-uninitialized)
  if(NODUS_SANITIZE MATCHES "thread")
    target_compile_options(nodus_warnings INTERFACE -Wno-tsan)
  endif()
  target_compile_options(nodus_sanitizers INTERFACE
    -fsanitize=${NODUS_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(nodus_sanitizers INTERFACE -fsanitize=${NODUS_SANITIZE})
endif()

# nodus_module(NAME SOURCES...): one library per module, alias nodus::NAME.
function(nodus_module name)
  add_library(nodus_${name} ${ARGN})
  add_library(nodus::${name} ALIAS nodus_${name})
  target_include_directories(nodus_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(nodus_${name} PRIVATE nodus::warnings PUBLIC nodus::sanitizers)
endfunction()
