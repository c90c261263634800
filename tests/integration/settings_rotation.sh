#!/usr/bin/env bash
source "$AC_SOURCE_DIR/tests/support/lib.sh"
finish
