// SPDX-License-Identifier: GPL-2.0
/*
 * mtk7530_switch: our own small program modelled on the MT7530 switch tool
 * of a TP-Link GPL code drop.  It reads a switch register through the
 * Ralink Ethernet driver's private ioctl, which does not exist on the test
 * guest: the Portal host emulates it.
 *
 *   mtk7530_switch table_del   poll REG_ESW_WT_MAC_AD0 until bit 1 is set
 */
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define RAETH_ESW_REG_READ	0x89F1
#define REG_ESW_WT_MAC_AD0	0x34

typedef struct {
	unsigned int off;
	unsigned int val;
} esw_reg;

static int esw_fd;

static int reg_read(int offset, int *value)
{
	struct ifreq ifr;
	esw_reg reg;

	memset(&ifr, 0, sizeof(ifr));
	reg.off = offset;
	reg.val = 0;
	strncpy(ifr.ifr_name, "eth0", 5);
	ifr.ifr_data = (char *)&reg;
	if (-1 == ioctl(esw_fd, RAETH_ESW_REG_READ, &ifr)) {
		perror("ioctl");
		close(esw_fd);
		exit(0);
	}
	*value = reg.val;
	return 0;
}

static void table_del(void)
{
	int i, value;

	for (i = 0; i < 20; i++) {
		reg_read(REG_ESW_WT_MAC_AD0, &value);
		if (value & 0x2) {
			printf("done.\n");
			return;
		}
		usleep(1000);
	}
	printf("timeout.\n");
}

static void usage(const char *cmd)
{
	printf("Usage:\n");
	printf(" %s table_del - delete the MAC table entry (waits for the switch)\n",
	       cmd);
	close(esw_fd);
	exit(0);
}

int main(int argc, char *argv[])
{
	esw_fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (esw_fd < 0) {
		perror("socket");
		exit(0);
	}
	if (argc < 2)
		usage(argv[0]);
	if (!strcmp(argv[1], "table_del"))
		table_del();
	else
		usage(argv[0]);
	close(esw_fd);
	return 0;
}
