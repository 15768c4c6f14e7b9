/* One Check program per test file: MV_CHECK_MAIN(suite) gives it a main
 * that runs the suite and exits non-zero on any failure. */
#ifndef MV_CHECK_MAIN_H
#define MV_CHECK_MAIN_H
#include <check.h>
#include <stdlib.h>

#define MV_CHECK_MAIN(make_suite)                                            \
	int main(void)                                                       \
	{                                                                    \
		SRunner *sr = srunner_create(make_suite());                  \
		srunner_run_all(sr, CK_ENV);                                 \
		int failed = srunner_ntests_failed(sr);                      \
		srunner_free(sr);                                            \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;                 \
	}

#endif
