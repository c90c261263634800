/* dist/dist_stub.c - keeps the library non-empty while its modules land (removed when they have). */
typedef int ac_dist_stub_t;
