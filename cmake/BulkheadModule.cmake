# bulkhead_add_module(<name> SRCS <files...> DEPS <targets...>)
#
# Makes the static library `bulkhead_<name>` with the alias `bulkhead::<name>`. Every module gets
# the same warnings and sanitizer options from bulkhead::options, and includes by module path
# (`#include "capture/decoder.h"`) from the source root. No module sets its own flags.
function(bulkhead_add_module name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(bulkhead_${name} STATIC ${ARG_SRCS})
  add_library(bulkhead::${name} ALIAS bulkhead_${name})
  target_include_directories(bulkhead_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(bulkhead_${name} PUBLIC bulkhead::options ${ARG_DEPS})
endfunction()

# bulkhead_add_test(<name> SRCS <files...> DEPS <targets...> [LABELS <labels...>])
#
# A GoogleTest executable registered with CTest under the given labels.
function(bulkhead_add_test name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE bulkhead::options ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "unit;${ARG_LABELS}"
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endfunction()

# bulkhead_add_fuzz(<name> SRCS <target.cc> DEPS <targets...> CORPUS <dir>)
#
# Every fuzz target (a LLVMFuzzerTestOneInput) is built twice: as `<name>_replay`, linked with a
# plain main that feeds it every file of its seed corpus, registered with CTest (so the sanitizer
# build replays the corpus on every run); and, with clang and BULKHEAD_FUZZ=ON, as a libFuzzer
# binary `<name>` for real fuzzing.
option(BULKHEAD_FUZZ "Build libFuzzer binaries (clang only)" OFF)
if(BULKHEAD_FUZZ AND CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  # The modules under test need coverage instrumentation too, or libFuzzer only sees the harness.
  target_compile_options(bulkhead_options INTERFACE -fsanitize=fuzzer-no-link)
endif()
function(bulkhead_add_fuzz name)
  cmake_parse_arguments(ARG "" "CORPUS" "SRCS;DEPS" ${ARGN})
  add_executable(${name}_replay ${ARG_SRCS} ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cc)
  target_link_libraries(${name}_replay PRIVATE bulkhead::options ${ARG_DEPS})
  add_test(NAME ${name}_replay COMMAND ${name}_replay ${ARG_CORPUS})
  set_tests_properties(${name}_replay PROPERTIES LABELS "unit;fuzz")
  if(BULKHEAD_FUZZ AND CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    add_executable(${name} ${ARG_SRCS})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name} PRIVATE bulkhead::options ${ARG_DEPS})
  endif()
endfunction()
