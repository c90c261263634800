# policy/netaddr.c: address classes and the web_read allow-list (pure).
ac_unit_test(test_policy_netaddr ${CMAKE_CURRENT_SOURCE_DIR}/test_netaddr.c LIBS ac_policy)
