# node-gyp build of the same sources as CMakeLists.txt (native/sources.txt); `npm run build:native:gyp`
# or `npx node-gyp rebuild`. scripts/gyp-config.mjs supplies the libtorch paths and flags.
{
  "targets": [
    {
      "target_name": "torch_gen",
      "sources": ["<!@(node scripts/gyp-config.mjs sources)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-fexceptions", "-frtti", "-Wall", "-Wextra", "<!@(node scripts/gyp-config.mjs cflags)", "<!@(node scripts/grammar-engine.mjs cflags)"],
      "ldflags": ["<!@(node scripts/gyp-config.mjs ldflags)"],
      "libraries": ["<!@(node scripts/gyp-config.mjs libraries)", "<!@(node scripts/grammar-engine.mjs libraries)"]
    }
  ]
}
