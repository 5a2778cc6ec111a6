# `sana serve` (server/): libsoup-3.0 for HTTP, GStreamer webrtcbin for WebRTC. Built only when
# the pkg-config modules are found (tools/deps/server.apt installs them).
pkg_check_modules(SANA_SERVER_DEPS IMPORTED_TARGET
  libsoup-3.0 gstreamer-1.0 gstreamer-webrtc-1.0 gstreamer-sdp-1.0 gstreamer-app-1.0 gstreamer-video-1.0)

# The command protocol has no GLib/GStreamer dependency: the fuzz target links it alone.
add_library(sana_protocol STATIC ${CMAKE_SOURCE_DIR}/server/protocol.c)
target_include_directories(sana_protocol PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(sana_protocol PUBLIC PkgConfig::CJSON m)

if(SANA_SERVER_DEPS_FOUND)
  file(GLOB SANA_SERVER_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/server/*.c)
  list(REMOVE_ITEM SANA_SERVER_SOURCES ${CMAKE_SOURCE_DIR}/server/protocol.c)
  add_library(sana_server STATIC ${SANA_SERVER_SOURCES})
  target_link_libraries(sana_server PUBLIC sana_protocol sana_engine PkgConfig::SANA_SERVER_DEPS Threads::Threads)
  set(SANA_HAVE_SERVER_LIB ON)
  # The `sana` binary gets the real server once the engine (stream/*.c) is there to drive;
  # until then cli/pending.c answers `sana serve` and the tests use their own engine double.
  file(GLOB SANA_ENGINE_STREAM_SOURCES ${CMAKE_SOURCE_DIR}/stream/*.c)
  if(SANA_ENGINE_STREAM_SOURCES)
    add_compile_definitions(SANA_HAVE_SERVER)
    list(APPEND SANA_CLI_EXTRA_LIBS sana_server)
  else()
    message(STATUS "server: engine (stream/*.c) not present yet; `sana serve` stays pending")
  endif()
else()
  message(STATUS "server: libsoup-3.0 / GStreamer webrtc not found; `sana serve` is not built")
endif()
