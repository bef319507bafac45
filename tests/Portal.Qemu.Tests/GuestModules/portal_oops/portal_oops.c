// SPDX-License-Identifier: GPL-2.0
/*
 * Test only, never part of the guest image: a module that oopses as it is loaded (a NULL
 * dereference in insmod's context), so the tests can check that a guest oops ends the VM and that
 * its text reaches the host. Debian's kernel has no lkdtm, and portal.ko must never oops.
 */
#include <linux/init.h>
#include <linux/module.h>

static int __init portal_oops_init(void)
{
	int *volatile nowhere = NULL;	/* volatile: the compiler may not prove it NULL and trap instead */

	pr_info("portal_oops: dereferencing NULL\n");
	return *nowhere;
}
module_init(portal_oops_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Portal test: oops on load");
