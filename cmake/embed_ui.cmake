# Turns the dashboard's files (src/ui) into C arrays: run by CMakeLists.txt at build time as
#   cmake -DUI_DIR=src/ui -DOUT=ui_assets.c -P embed_ui.cmake
# Pure CMake (no xxd, no python), so the build needs nothing beyond the compiler and CMake.
# Each file becomes a byte array plus a NUL that its length does not count, and an ETag made of
# the first 20 hex digits of its SHA-256.
file(GLOB_RECURSE files RELATIVE "${UI_DIR}" "${UI_DIR}/*.html" "${UI_DIR}/*.css" "${UI_DIR}/*.js"
     "${UI_DIR}/*.svg" "${UI_DIR}/*.png")
list(SORT files)
set(body "/* Generated from src/ui by cmake/embed_ui.cmake: do not edit. */\n")
string(APPEND body "#include \"api/dashboard.h\"\n\n")
set(table "")
set(i 0)
foreach(rel IN LISTS files)
  file(READ "${UI_DIR}/${rel}" hex HEX)
  file(SHA256 "${UI_DIR}/${rel}" sum)
  string(SUBSTRING "${sum}" 0 20 tag)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REPLACE "0x0a," "0x0a,\n" bytes "${bytes}")
  string(APPEND body "/* ${rel} */\nstatic const unsigned char ui_${i}[] = {\n${bytes}0x00};\n\n")
  string(APPEND table "    {\"${rel}\", ui_${i}, sizeof ui_${i} - 1, \"\\\"${tag}\\\"\"},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "const struct dashboard_asset dashboard_assets[] = {\n${table}};\n")
string(APPEND body "const size_t dashboard_assets_count = ${i};\n")
file(WRITE "${OUT}" "${body}")
