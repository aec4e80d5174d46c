# ctest helper: building TARGET must fail, and the compiler output must contain the text of
# the "// EXPECT: ..." line of SOURCE (a plain substring, not a regex).
file(STRINGS ${SOURCE} expect_lines REGEX "^// EXPECT: ")
if(NOT expect_lines)
  message(FATAL_ERROR "${SOURCE} has no '// EXPECT: ' line")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${TARGET}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "${TARGET} compiled, but it must not")
endif()
foreach(line IN LISTS expect_lines)
  string(REPLACE "// EXPECT: " "" expected "${line}")
  string(FIND "${out}" "${expected}" pos)
  if(pos EQUAL -1)
    message(FATAL_ERROR "${TARGET} failed to compile, but without the expected message:\n  ${expected}\nCompiler output:\n${out}")
  endif()
endforeach()
message(STATUS "${TARGET} failed to compile as expected")
