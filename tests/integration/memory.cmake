# tests/integration/memory.cmake - the memory and knowledge stores (node/memory.c) against the suite's private
# PostgreSQL server.
ac_unit_test(test_memory ${CMAKE_CURRENT_SOURCE_DIR}/test_memory.c LIBS ac_node_engine FIXTURES pg)
