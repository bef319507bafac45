/*
 * The interface of the device the plugin stands in for. Replace it with your firmware's driver header:
 * every struct becomes a typed proxy, every #define a constant, with each ABI's own layout.
 */
#include <stdint.h>

/* SIOCDEVPRIVATE: the request the guest program ioctl_interaction makes (on a socket, with the query below). */
#define DEVICE_IOCTL_QUERY 0x89F0

/* What the caller passes: laid out as the start of a struct ifreq (the name, then an int at offset 16). */
struct device_query {
	char ifname[16];
	int32_t status;
};
