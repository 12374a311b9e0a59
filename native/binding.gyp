# node-gyp build of the Outpost data-plane addon (ARCHITECTURE.md §5); links OpenSSL libcrypto from the system.
{
  "targets": [
    {
      "target_name": "outpost_native",
      "sources": [
        "src/op_addon.c",
        "src/op_esp.c",
        "src/op_gso.c",
        "src/op_pmtu.c",
        "src/op_replay.c",
        "src/op_sa.c",
        "src/op_route.c",
        "src/op_ts.c",
        "src/op_tun.c",
        "src/op_worker.c",
        "src/op_xform.c",
        "src/op_xfrm_events.c",
        "src/op_xfrm_msg.c",
        "src/op_xfrm_napi.c",
        "src/op_xfrm_nl.c"
      ],
      "cflags": ["-std=c11", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden", "-D_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "libraries": ["-lcrypto", "-lpthread"],
      "defines": ["OPENSSL_API_COMPAT=30000", "OPENSSL_NO_DEPRECATED"]
    }
  ]
}
