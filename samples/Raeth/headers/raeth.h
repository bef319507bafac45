/* SPDX-License-Identifier: GPL-2.0 */
/*
 * raeth.h: our own header modelling the private ioctl interface of the
 * Ralink/MediaTek "raeth" Ethernet driver (the Ralink raeth driver interface
 * described in the seed): user space fills a struct ifreq whose ifr_data
 * points to an esw_reg, and calls ioctl(fd, RAETH_ESW_REG_READ, &ifr) to read
 * an embedded-switch register, RAETH_ESW_REG_WRITE to write one.
 *
 * Written for Portal for .NET as the input of portal-headers: one header that
 * gives both esw_reg and the target's struct ifreq (with its ifr_data alias).
 */
#ifndef RAETH_H
#define RAETH_H

#include <net/if.h>

/* Private ioctls: SIOCDEVPRIVATE (0x89F0) + n. */
#define RAETH_ESW_REG_READ	0x89F1
#define RAETH_ESW_REG_WRITE	0x89F2
#define RAETH_MII_READ		(RAETH_ESW_REG_READ + 2)
#define RAETH_MII_WRITE		(RAETH_ESW_REG_READ + 3)

/* Embedded switch registers (MT7530-style address table access). */
#define REG_ESW_WT_MAC_AD0	0x34
#define REG_ESW_WT_MAC_ATC	0x80
#define REG_ESW_TABLE_STATUS0	0x90
#define REG_ESW_TABLE_STATUS1	(REG_ESW_TABLE_STATUS0 + 4)
#define REG_ESW_MAX		0xFC

/* REG_ESW_WT_MAC_ATC: command in the low bits, busy flag on top. */
#define ESW_ATC_BUSY		(1u << 31)
#define ESW_ATC_CMD_MASK	0x7
#define ESW_ATC_CMD_SEARCH	0x4
#define ESW_ATC_CMD_NEXT	0x5

/* ifreq.ifr_data of RAETH_ESW_REG_READ / RAETH_ESW_REG_WRITE */
typedef struct {
	unsigned int off;
	unsigned int val;
} esw_reg;

/* ifreq.ifr_data of RAETH_MII_READ / RAETH_MII_WRITE */
struct ra_mii_ioctl_data {
	unsigned int phy_id;
	unsigned int reg_num;
	unsigned int val_in;
	unsigned int val_out;
};

/* One address-table entry as the switch reports it. */
struct esw_mac_entry {
	unsigned char mac[6];
	unsigned short vid;
	unsigned int port_map;
	unsigned int age;
};

#endif /* RAETH_H */
