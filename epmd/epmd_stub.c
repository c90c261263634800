/* epmd/epmd_stub.c - keeps the library non-empty while its modules land (removed when they have). */
typedef int ac_epmd_stub_t;
