// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_interaction: the guest side of the seed's ioctl_interaction_test.
 * Contract: docs/guest-programs.md.
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>

int main(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = {0};
	long rc;

	strcpy(ifr.ifr_name, "eth0");
	ifr.ifr_ifindex = 0x1337;	/* the int at offset IFNAMSIZ (16) */
	printf("before name=%s data=0x%x\n", ifr.ifr_name, ifr.ifr_ifindex);
	rc = ioctl(fd, SIOCDEVPRIVATE, &ifr);	/* 0x89f0 */
	printf("rc=%ld errno=%d\n", rc, rc < 0 ? errno : 0);
	printf("after name=%s data=0x%x\n", ifr.ifr_name, ifr.ifr_ifindex);
	return 0;
}
