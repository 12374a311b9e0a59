/* N-API registration of the XFRM backend's functions (op_xfrm_napi.c) on the addon's exports. */
#ifndef OP_XFRM_NAPI_H
#define OP_XFRM_NAPI_H

#include <node_api.h>

/* Adds xfrmOpen, xfrmAddSa, ... to exports. 0 or -EIO. */
int op_xfrm_register(napi_env env, napi_value exports);

#endif
