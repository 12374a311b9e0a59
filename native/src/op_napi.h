/* N-API glue shared by op_addon.c and op_xfrm_napi.c: the misuse-throws half of their errno convention. */
#ifndef OP_NAPI_H
#define OP_NAPI_H

#include <node_api.h> /* after the includer's NAPI_VERSION */

/* A failing N-API call is a bug in the addon, not a peer or kernel error: it throws instead of returning -errno. */
#define CHECK(env, call)                                                                                        \
	do {                                                                                                    \
		if ((call) != napi_ok) {                                                                        \
			napi_throw_error((env), "EINTERNAL", "N-API call failed: " #call);                       \
			return NULL;                                                                            \
		}                                                                                               \
	} while (0)

/* Wrong argument types from JavaScript: throws a TypeError with code EINVAL; returns NULL for `return type_error(...)`. */
static inline napi_value type_error(napi_env env, const char *msg)
{
	napi_throw_type_error(env, "EINVAL", msg);
	return NULL;
}

#endif
