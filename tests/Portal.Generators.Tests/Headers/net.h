/* The standard socket structs from each target's own libc headers, and a protocol header of our own
   whose big-endian members are declared with the PortalHeader's NetworkOrder metadata (NetworkTests). */
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <net/if.h>

struct probe_hdr {
    uint16_t port;      /* network order: NetworkOrder="probe_hdr.port;probe_hdr.addr" */
    uint16_t flags;     /* guest order */
    uint32_t addr;      /* network order */
    char tag[8];
};
