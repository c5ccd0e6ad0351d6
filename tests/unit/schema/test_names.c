/* SPDX-License-Identifier: MIT */
/*
 * The name tables: every enum value has a wire name, the names map back to their values, and
 * out-of-range values and unknown names give NULL and _INVALID.
 */
#include "test_mp.h"

#include "schema/cleanup.h"
#include "schema/proto.h"

static void test_names_code_names_match_the_contract(void **state)
{
        (void)state;
        static const char *const want[] = {"AC", "WA", "PE", "TLE",      "MLE",    "OLE",
                                           "RE", "CE", "SE", "REJECTED", "SKIPPED"};

        assert_int_equal(ARRAY_SIZE(want), _SCHEMA_CODE_MAX);
        for (int c = 0; c < _SCHEMA_CODE_MAX; c++) {
                assert_string_equal(schema_code_name(c), want[c]);
                assert_int_equal(schema_code_from_name(want[c]), c);
        }
        assert_null(schema_code_name(_SCHEMA_CODE_MAX));
        assert_null(schema_code_name(_SCHEMA_CODE_INVALID));
        assert_int_equal(schema_code_from_name("ac"), _SCHEMA_CODE_INVALID);
        assert_int_equal(schema_code_from_name(""), _SCHEMA_CODE_INVALID);
        assert_int_equal(schema_code_from_name(NULL), _SCHEMA_CODE_INVALID);
}

static void test_names_checker_names_match_the_contract(void **state)
{
        (void)state;
        static const char *const want[] = {"default", "tokens", "exact", "lines", "float"};

        assert_int_equal(ARRAY_SIZE(want), _SCHEMA_CHECKER_MAX);
        for (int c = 0; c < _SCHEMA_CHECKER_MAX; c++) {
                assert_string_equal(schema_checker_name(c), want[c]);
                assert_int_equal(schema_checker_from_name(want[c]), c);
        }
        assert_null(schema_checker_name(_SCHEMA_CHECKER_MAX));
        assert_int_equal(schema_checker_from_name("diff"), _SCHEMA_CHECKER_INVALID);
        assert_int_equal(schema_checker_from_name("float "), _SCHEMA_CHECKER_INVALID);
}

static void test_names_stage_names_match_the_contract(void **state)
{
        (void)state;
        static const char *const want[] = {"received", "compiling", "running", "done"};

        assert_int_equal(ARRAY_SIZE(want), _SCHEMA_STAGE_MAX);
        for (int s = 0; s < _SCHEMA_STAGE_MAX; s++) {
                assert_string_equal(schema_stage_name(s), want[s]);
                assert_int_equal(schema_stage_from_name(want[s]), s);
        }
        assert_null(schema_stage_name(-1));
        assert_int_equal(schema_stage_from_name("Done"), _SCHEMA_STAGE_INVALID);
}

static void test_names_policy_names_match_the_contract(void **state)
{
        (void)state;
        static const char *const want[] = {"none", "compile", "run"};

        assert_int_equal(ARRAY_SIZE(want), _PROTO_POLICY_MAX);
        for (int p = 0; p < _PROTO_POLICY_MAX; p++) {
                assert_string_equal(proto_policy_name(p), want[p]);
                assert_int_equal(proto_policy_from_name(want[p]), p);
        }
        assert_null(proto_policy_name(_PROTO_POLICY_MAX));
        assert_int_equal(proto_policy_from_name("runs"), _PROTO_POLICY_INVALID);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names_code_names_match_the_contract),
                cmocka_unit_test(test_names_checker_names_match_the_contract),
                cmocka_unit_test(test_names_stage_names_match_the_contract),
                cmocka_unit_test(test_names_policy_names_match_the_contract),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
