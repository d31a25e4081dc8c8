/*
 * Reading the words of the VPC address map's lines, for vpcmap.c.
 *
 * Why a file of its own: vpcmap.c publishes the map to lock-free readers; what a
 * line's words are (addresses, blocks, protocols and port ranges) is a concern of
 * its own, kept as strict as the lookups (anything unexpected rejects the line).
 * Like vpcmap.c, nothing here allocates, locks or changes errno.
 */
#include "vpcparse.h"

#include <string.h>

void vp_skip_blanks(const char **p) {
    while (**p == ' ' || **p == '\t' || **p == '\r') (*p)++;
}

/* A decimal number of 1 to 3 digits no greater than max; advances *p. */
int vp_number(const char **p, unsigned max, unsigned *out) {
    unsigned v = 0;
    int digits = 0;
    while (**p >= '0' && **p <= '9' && digits < 4) {
        v = v * 10 + (unsigned)(**p - '0');
        (*p)++;
        digits++;
    }
    if (digits == 0 || digits > 3 || v > max) return 0;
    *out = v;
    return 1;
}

/* Four numbers 0-255 separated by sep; *out in host order. */
int vp_quad(const char **p, char sep, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned part;
        if (i > 0) {
            if (**p != sep) return 0;
            (*p)++;
        }
        if (!vp_number(p, 255, &part)) return 0;
        v = (v << 8) | part;
    }
    *out = v;
    return 1;
}

int vp_keyword(const char **p, const char *word) {
    size_t n = strlen(word);
    if (strncmp(*p, word, n) != 0 || ((*p)[n] != ' ' && (*p)[n] != '\t')) return 0;
    *p += n;
    vp_skip_blanks(p);
    return 1;
}

int vp_line_end(const char *p) {
    vp_skip_blanks(&p);
    return *p == 0;
}

char vp_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

/* "a.b.c.d/n" at *p: the masked block (host order) and its mask. */
int vp_block(const char **p, uint32_t *net, uint32_t *mask) {
    uint32_t a;
    unsigned bits;
    if (!vp_quad(p, '.', &a) || **p != '/') return 0;
    (*p)++;
    if (!vp_number(p, 32, &bits) || !vp_line_end(*p)) return 0;
    *mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
    *net = a & *mask;
    return 1;
}

/* " tcp 80 443" or " udp 53 53" at *p: *udp, and the range packed (first << 16 | last). */
int vp_port_range(const char **p, unsigned *udp, uint32_t *out) {
    unsigned low, high;
    vp_skip_blanks(p);
    if (strncmp(*p, "tcp", 3) == 0) {
        *udp = 0;
    } else if (strncmp(*p, "udp", 3) == 0) {
        *udp = 1;
    } else {
        return 0;
    }
    *p += 3;
    if (**p != ' ' && **p != '\t') return 0;
    vp_skip_blanks(p);
    const char *q = *p;
    unsigned v[2];
    for (int i = 0; i < 2; i++) {
        int digits = 0;
        v[i] = 0;
        while (*q >= '0' && *q <= '9' && digits < 6) {
            v[i] = v[i] * 10 + (unsigned)(*q - '0');
            q++;
            digits++;
        }
        if (digits == 0 || digits > 5 || v[i] > 65535) return 0;
        if (i == 0) {
            if (*q != ' ' && *q != '\t') return 0;
            vp_skip_blanks(&q);
        }
    }
    if (!vp_line_end(q)) return 0;
    low = v[0];
    high = v[1];
    if (low > high) return 0;
    *out = low << 16 | high;
    *p = q;
    return 1;
}
