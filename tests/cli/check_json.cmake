# cmake -DFILE=report.json [-DKEYS="accuracy;evaluation.per_class;..."] -P check_json.cmake
# Fails unless FILE parses as JSON and holds every dotted key path (uses only CMake's own JSON
# parser, so the CLI tests need nothing beyond Debian's cmake and bash).
cmake_minimum_required(VERSION 3.21)
file(READ "${FILE}" text)
string(JSON type ERROR_VARIABLE err TYPE "${text}")
if(err)
  message(FATAL_ERROR "${FILE}: not valid JSON: ${err}")
endif()
foreach(key IN LISTS KEYS)
  string(REPLACE "." ";" path "${key}")
  string(JSON value ERROR_VARIABLE err GET "${text}" ${path})
  if(err)
    message(FATAL_ERROR "${FILE}: missing ${key}: ${err}")
  endif()
  string(SUBSTRING "${value}" 0 80 shown)
  message(STATUS "${key} = ${shown}")
endforeach()
