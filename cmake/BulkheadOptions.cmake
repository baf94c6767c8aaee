# Warning and sanitizer flags for bulkhead's own targets. Applied through an interface target so
# that third-party headers (found as system includes) are not held to them.
add_library(bulkhead_options INTERFACE)
add_library(bulkhead::options ALIAS bulkhead_options)

target_compile_options(bulkhead_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough -Werror)

# GCC 12 at -O3 reports -Wrestrict, -Wmaybe-uninitialized and -Wstringop-overread from inside
# inlined libstdc++ std::string and std::optional code (known false positives of GCC 12's
# inliner, absent at -O0 and under clang). They stay visible as warnings but do not fail the build.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(bulkhead_options INTERFACE
    -Wno-error=restrict -Wno-error=maybe-uninitialized -Wno-error=stringop-overread)
endif()

if(BULKHEAD_SANITIZE)
  target_compile_options(bulkhead_options INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(bulkhead_options INTERFACE -fsanitize=address,undefined)
  # clang 14 cannot emit UBSan's `function` check in coroutines ("Cannot represent a difference
  # across sections", llvm-project issue 49689): the Asio clients (inventory/, daemon/) are
  # coroutines. GCC has no such check, so the asan-ubsan preset loses nothing.
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    target_compile_options(bulkhead_options INTERFACE -fno-sanitize=function)
  endif()
endif()

# Boost.Asio and Beast are header-only here; keep them from pulling in deprecated interfaces.
target_compile_definitions(bulkhead_options INTERFACE
  BOOST_ASIO_NO_DEPRECATED BOOST_ALLOW_DEPRECATED_HEADERS)
