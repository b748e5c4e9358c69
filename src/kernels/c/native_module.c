// Module entry of the native kernels, compiled WITHOUT -mavx2 so that loading the addon on a CPU
// without AVX2/FMA reports why instead of dying on an illegal instruction.
#define NAPI_VERSION 8
#include <node_api.h>

napi_value gatescope_register_kernels(napi_env env, napi_value exports);

NAPI_MODULE_INIT() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return gatescope_register_kernels(env, exports);
  napi_value reason;
  napi_create_string_utf8(env, "this CPU lacks AVX2 or FMA", NAPI_AUTO_LENGTH, &reason);
  napi_set_named_property(env, exports, "unsupported", reason);
  return exports;
}
