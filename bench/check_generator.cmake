# Run as `cmake -DPYTHON=.. -DSOURCE_DIR=.. -DWORK_DIR=.. -P check_generator.cmake` (CTest test
# gen_traffic_deterministic). Generates the `fixture` and `example` profiles twice into WORK_DIR
# and fails unless every run is byte-identical to the committed files.
foreach(var PYTHON SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_generator.cmake: ${var} is not set")
  endif()
endforeach()

set(generator ${SOURCE_DIR}/tools/gen_traffic.py)
# profile, then the committed files in the order the generator writes: pcap, inventory, expected.
set(fixture_files
  tests/fixtures/learn-fixture.pcap
  tests/fixtures/learn-fixture-inventory.yaml
  tests/fixtures/learn-fixture.expected.json)
set(example_files
  examples/shop.pcap
  examples/shop-inventory.yaml)

file(REMOVE_RECURSE ${WORK_DIR})
foreach(profile fixture example)
  foreach(run 1 2)
    set(dir ${WORK_DIR}/${profile}-${run})
    file(MAKE_DIRECTORY ${dir})
    set(args ${profile} -o ${dir}/out.pcap --inventory ${dir}/out-inventory.yaml)
    set(generated ${dir}/out.pcap ${dir}/out-inventory.yaml)
    if(profile STREQUAL "fixture")
      list(APPEND args --expected ${dir}/out.expected.json)
      list(APPEND generated ${dir}/out.expected.json)
    endif()
    execute_process(COMMAND ${PYTHON} ${generator} ${args} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "gen_traffic.py ${profile} failed (${rc})")
    endif()
    foreach(committed generated_file IN ZIP_LISTS ${profile}_files generated)
      execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files
        ${SOURCE_DIR}/${committed} ${generated_file} RESULT_VARIABLE differs)
      if(NOT differs EQUAL 0)
        message(FATAL_ERROR "${committed} differs from what gen_traffic.py ${profile} makes "
          "(run ${run}: ${generated_file}). Regenerate with `tools/gen_traffic.py ${profile}` "
          "and commit, or find the nondeterminism.")
      endif()
    endforeach()
  endforeach()
endforeach()
message(STATUS "gen_traffic.py: fixture and example are reproducible and match the committed files")
