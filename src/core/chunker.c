/*
 * FastCDC (Xia et al., USENIX ATC 2016) with normalized chunking, level 2.
 *
 * The gear hash h = (h << 1) + gear[byte] shifts every byte's contribution
 * one bit up per step, so after 64 steps a byte has left the 64-bit word:
 * h is a function of exactly the last 64 bytes, and its top bits depend on
 * all 64 of them. That is why the masks test the top bits (the low bits
 * would see only the last few bytes), and why hashing starts 64 bytes
 * before `min`: the first candidate boundary already has a full window, so
 * whether a position is a boundary depends on the 64 bytes before it and
 * the distance from the previous boundary, never on how the stream was
 * cut into buffers.
 *
 * Normalized chunking: before avg a boundary needs log2(avg) + 2 zero bits
 * (4x rarer), from avg on log2(avg) - 2 (4x more likely). Sizes bunch up
 * around avg, which keeps the average near avg despite the min skip and
 * makes reaching max (a forced, content-independent cut) vanishingly rare
 * for max >= 4 avg.
 */
#include "common.h"
#include "core/chunker.h"
#include "util/error.h"
#include <openssl/evp.h>

/*
 * The gear table is written here, not computed at start-up, so that it is
 * visibly a constant of the on-disk format: changing one entry moves chunk
 * boundaries and costs every repository its dedup against older backups.
 * It is the first 256 outputs of SplitMix64 seeded with
 * 0x6862722d67656172 ("hbr-gear"); tests/unit/core/chunker.c regenerates
 * it and compares.
 */
const uint64_t hbr_chunker_gear[256] = {
	0x8e832911c144ef82ULL, 0x184e29ceebf2cdeaULL, 0xaa3ce01c70707d5bULL,
	0xd7559823cbcc0834ULL, 0xeb6732e6e4bafac0ULL, 0xdb1c55c8827d4d40ULL,
	0x0409a94dabceeb07ULL, 0x026543b304ce9205ULL, 0x3ec7f05d6affca1cULL,
	0x8f5952e6abb597d4ULL, 0x9ede8b8b26393591ULL, 0x7e544aff0d6879a3ULL,
	0x7aacb37e0e35f9dcULL, 0xe91410f729853803ULL, 0xabc3608eb4eebe67ULL,
	0x9fd7530ae8007015ULL, 0x752af1d5247f1b3dULL, 0x9c010541046da658ULL,
	0x5940121b9c66adc3ULL, 0xcc77e74cd159626cULL, 0x38268662ab733664ULL,
	0x31531facdb88e506ULL, 0x1279dafb1d1fb1ceULL, 0x549b2bc10c9b9467ULL,
	0xfabcca62fbc45dd7ULL, 0x23c4a292fbbd2a8cULL, 0xdd2f752e1952b2b5ULL,
	0x93697130d1f69da3ULL, 0x75bfb64de0b1fb41ULL, 0xcdcb7e75c8dd43d3ULL,
	0x1a0074244a8b06abULL, 0xd21e6e1218b1b789ULL, 0xa30f0279a49c22e0ULL,
	0xa73bafe44938bcc5ULL, 0x311940a4f1c9b9f5ULL, 0x704efda9f3db6025ULL,
	0x24a51a8027abe82cULL, 0x2a8af64ef1730170ULL, 0x4871265310e45e21ULL,
	0x858707e33068573eULL, 0x294cb46dcd6696f2ULL, 0xe28601b265927380ULL,
	0x72a48b412c5a95cbULL, 0xf6024cf8b36f355dULL, 0x489bd794ac7f28abULL,
	0xe76421ce0c9b98daULL, 0x046b87605ec67b3fULL, 0xde072b3413cf8094ULL,
	0x511440fb458e3167ULL, 0x40d674dccdeddb46ULL, 0x82071c4f20086dc0ULL,
	0x21ea4773e0a51fd8ULL, 0x55563c44a6d58be0ULL, 0xeebebcf26b43552fULL,
	0xcc9c5422be8cdf51ULL, 0x94e021deacbf4d7aULL, 0x0a67526cfccffc09ULL,
	0x0a79ee5fded0838eULL, 0xc977db37def2edccULL, 0x49503d004d66ea01ULL,
	0x571cb688f39dedc7ULL, 0x6a3c74e3c60ee890ULL, 0xa88f7268e74ca38eULL,
	0x9f1fcaa151d69e75ULL, 0x46b428c3f0a688feULL, 0x07b5f1484a4ecdc2ULL,
	0x5f202fba3dbb1f80ULL, 0xa741f0905de60886ULL, 0xa62780732a5f5a55ULL,
	0xf851f18b1c624cb7ULL, 0xd284b1f653dcfe30ULL, 0xd781276b15c8e1b6ULL,
	0xa66b0906bc81c26aULL, 0x4fdded940cfa86cdULL, 0x39647d66e327d439ULL,
	0xeee992390d035e01ULL, 0x8810918244b9dbc3ULL, 0xec7c725902e754b9ULL,
	0x4f03a645d7e1a1d3ULL, 0x3f373e7f4b16bbfeULL, 0x93cbb0bd18e3cd4fULL,
	0xc29ab5c753f7c1dfULL, 0x2463bbacacbcd2b2ULL, 0x7e4b4b795c4875adULL,
	0xf083b2bc45985621ULL, 0x4c74ba879126940eULL, 0x6f1557dc7ae36cd4ULL,
	0x24e7482b559deaa0ULL, 0x64decbe0021a4c83ULL, 0x33e5b0ce269d752cULL,
	0x7a60e8539ee71186ULL, 0x7c29a5afa561b806ULL, 0x4a36579c5a5fd480ULL,
	0x0d75522d9977d2e4ULL, 0x7889608950358ff0ULL, 0xe856b6dcc9c7802cULL,
	0x21c9e4c709be4a62ULL, 0x78f2a2049490b760ULL, 0x6d4e3a9dae5cc5e2ULL,
	0x7c98ab9eecd74bf9ULL, 0x7027d3267b86e585ULL, 0x2a78c82b54329ab6ULL,
	0x445c85a8a2b7bdb5ULL, 0xe22b98fbd7aedabaULL, 0xc34529aaf803394fULL,
	0x1c3e42dfd748aefaULL, 0x070bda02185d1f35ULL, 0x0dc912ec2187dc3cULL,
	0xadb53bc6e3c0f9ffULL, 0xfb729882089e75f3ULL, 0xfe9541f72f52f9b8ULL,
	0x62264c0568c17f8aULL, 0xbfaef7ec5a3ce786ULL, 0x0afff29a9e5f84abULL,
	0x38bdf59ece7af62dULL, 0x9138d547eed18108ULL, 0x1e03394b8cf67b51ULL,
	0x039895b1602efe56ULL, 0x786c017271af14b9ULL, 0xb1c29e069e48bc7aULL,
	0xf808f10b5126f69bULL, 0xad046971eec1f27eULL, 0xb4603ff78b1f4a0dULL,
	0x514f75ae11c7ed15ULL, 0x43d8286eb9f85f40ULL, 0x3c9fe8e3216f51eeULL,
	0x862b9333e50e3acaULL, 0xc32d94206fc82a8dULL, 0x4156a5fe2728fe2fULL,
	0xe54c1ad16b35b130ULL, 0x6eef8ad4630fe43dULL, 0x75b3cf38504e0feeULL,
	0x71dc3ae1d2255c1bULL, 0xaadc00fe36b7cf4cULL, 0x7c8f26e8ae44ef2bULL,
	0x713c4d0be959f44bULL, 0x59b9da0f464000baULL, 0x3da1772bcb439683ULL,
	0xd3c4c028de447d09ULL, 0xf152bdf3b5b41aaaULL, 0xe819f4ae2cfefd90ULL,
	0x18cf0b997122fad6ULL, 0x656ab4ea41d6eb0dULL, 0xc56cc648573f34c2ULL,
	0xe86f5fd16bc31748ULL, 0xd3977e06f12b8e93ULL, 0xac2dc6369ee13090ULL,
	0xaf0e2c80f4a827d7ULL, 0x6403424e84130862ULL, 0x03e93a08fa59aa11ULL,
	0x6a564e461661be5bULL, 0x899ea39c75d02415ULL, 0x62d19c05990982d9ULL,
	0xdcf6d20c9c5e7bacULL, 0xddb156bdbfe9f0adULL, 0x766a705253cf89dbULL,
	0xba3a1eaabb4701b5ULL, 0x7df1486b8241cecbULL, 0xf52557beed154fc0ULL,
	0xffce5e77e73edc03ULL, 0x3818a4474c067e08ULL, 0xbd005b6c0dcdb96dULL,
	0xed4239a927a20819ULL, 0x52e842b972fc0740ULL, 0x7bbc88f28be5331eULL,
	0x69942750c2ea5be3ULL, 0x8a0888adea3673e8ULL, 0xd02277ac7f2b8231ULL,
	0x1371ff7e71842ed2ULL, 0x68b8369a6e488be4ULL, 0xfae84282f137c141ULL,
	0x1c670f0ce73e7244ULL, 0xc8da8a7a7b0600c7ULL, 0x9900bf4f4b6bc46fULL,
	0x79e46a0503c5fc42ULL, 0x3cf5d8e6cd36a239ULL, 0x35a42f3bd18834bfULL,
	0x73e956ff96f42595ULL, 0x9b767b3fd3802200ULL, 0x7da58d4fbe884281ULL,
	0x42793bd57ff64a46ULL, 0xfa935ad9f1657167ULL, 0x02e35d3d04e37b56ULL,
	0x4c374c675cbc7813ULL, 0x16b5eb2a6f5e3e6dULL, 0x197745eeadada934ULL,
	0xaa2db1242ba8941fULL, 0x3221e4e40c89d03dULL, 0xb88a52da08af2d75ULL,
	0x1b2cfcee362877b7ULL, 0xcb22c2df7ada051bULL, 0xb772d8fdc185339aULL,
	0x9e98a5d89d85d487ULL, 0xb55d6ef5f6cf4f96ULL, 0x9980141b51419e72ULL,
	0x78534e855e328472ULL, 0x79c3c3a1bcdf6a59ULL, 0xe7ba429d961071efULL,
	0x38ff90a38dce9019ULL, 0xadd739d7c6b17e66ULL, 0x6d268bf59ab9b86aULL,
	0x2df15b794ee75ccfULL, 0x4b280a17f5e05058ULL, 0x60f7404adf7b07e6ULL,
	0xd676571980b06b12ULL, 0x2cbca15e02c89d91ULL, 0x76c3843397679c02ULL,
	0xed8174cf2b59f478ULL, 0x060ab0e09467c9edULL, 0x9102025b703ba18fULL,
	0x2099d8c89292d77dULL, 0xeca3c8f25ba07093ULL, 0xb774ff2c0c34ddd7ULL,
	0x33318bffb7a46ef3ULL, 0x1f13d455f7b8d0e7ULL, 0x0358f028057f169fULL,
	0x2e078854679ee213ULL, 0xb5e4102426886af0ULL, 0xcfd7fd752129cb2eULL,
	0x8d960e5fa477096eULL, 0x91fcfc0286d516e3ULL, 0xf4daeff108a1928aULL,
	0x9af37d42d5ca24fbULL, 0x41c082354556f6beULL, 0x2a7d64c2a18c7152ULL,
	0x23aa5231e7dda7d5ULL, 0xe1ac5efffa06748dULL, 0x4910af05523c88abULL,
	0x9292f8cf12d60de1ULL, 0xd472714fdc3ca7e2ULL, 0x4623d01048f7d571ULL,
	0x314b795e1109773aULL, 0x1870bef27706f424ULL, 0x23674e1231eabde8ULL,
	0xdeae20e69d8e723bULL, 0x3444e5251a19be0dULL, 0x2a84d424cecafc0cULL,
	0x943fa2fbc7f07efcULL, 0x77827c1b95b2d826ULL, 0xf897fdce75cffbf9ULL,
	0xe39569b8c4b08681ULL, 0x66efe53bbb2bdf92ULL, 0x4c93462ce6518048ULL,
	0x06f4cc9e158eb959ULL, 0xb11347afcbb51306ULL, 0xe774e08c4b0f44f1ULL,
	0x4df68cd7993ed6e3ULL, 0xccafaf6cc38490c1ULL, 0xc5436922ed47f596ULL,
	0x303975bb65c5c02dULL, 0x95b499c6cad43564ULL, 0xd182e412f3d7c536ULL,
	0x9181231b7d43a9b4ULL, 0x3bdcd8dc7cccbaaaULL, 0x4e682f7f7760c8a6ULL,
	0x3c06c3559b397ab8ULL,
};

void hbr_chunker_params_default(struct hbr_chunker_params *p)
{
	p->min = HBR_CHUNKER_DEFAULT_MIN;
	p->avg = HBR_CHUNKER_DEFAULT_AVG;
	p->max = HBR_CHUNKER_DEFAULT_MAX;
}

/* A mask of the top n bits. */
static uint64_t top_bits(unsigned n)
{
	return n >= 64 ? ~0ULL : ~(~0ULL >> n);
}

int hbr_chunker_init(struct hbr_chunker *c, const struct hbr_chunker_params *p)
{
	unsigned bits = 0;

	if (p->min < HBR_CHUNKER_MIN_LIMIT)
		return hbr_error_set(HBR_EINVAL, "chunk min %u is below %u",
		                     p->min, HBR_CHUNKER_MIN_LIMIT);
	if (p->avg <= p->min || p->max <= p->avg)
		return hbr_error_set(
		        HBR_EINVAL,
		        "chunk sizes need min < avg < max (%u, %u, %u)", p->min,
		        p->avg, p->max);
	if (p->avg & (p->avg - 1))
		return hbr_error_set(HBR_EINVAL,
		                     "chunk avg %u is not a power of two",
		                     p->avg);
	if (p->max > HBR_CHUNKER_MAX_LIMIT)
		return hbr_error_set(HBR_EINVAL, "chunk max %u is above %u",
		                     p->max, HBR_CHUNKER_MAX_LIMIT);
	while ((1u << bits) < p->avg)
		bits++;
	/* avg > min >= 64, so bits >= 7 and bits - 2 is positive. */
	c->mask_s = top_bits(bits + 2);
	c->mask_l = top_bits(bits - 2);
	c->min = p->min;
	c->avg = p->avg;
	c->max = p->max;
	c->warm = p->min - 64;
	hbr_chunker_reset(c);
	return 0;
}

void hbr_chunker_reset(struct hbr_chunker *c)
{
	c->hash = 0;
	c->pos = 0;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/*
 * Phases by chunk length L after a byte is taken: L <= warm is skipped
 * unhashed; L < min is hashed only; min <= L < avg is tested against
 * mask_s; avg <= L < max against mask_l; L == max cuts. Each phase is its
 * own tight loop bounded by both the phase end and the buffer end.
 */
size_t hbr_chunker_next(struct hbr_chunker *c, const uint8_t *data, size_t len,
                        bool eof)
{
	uint64_t h = c->hash;
	size_t pos = c->pos;
	size_t i = 0, n;

	if (pos < c->warm) {
		n = min_size(c->warm - pos, len);
		i += n;
		pos += n;
	}
	if (pos < c->min - 1) {
		n = min_size(c->min - 1 - pos, len - i);
		for (size_t end = i + n; i < end; i++)
			h = (h << 1) + hbr_chunker_gear[data[i]];
		pos += n;
	}
	if (pos < c->avg - 1) {
		n = min_size(c->avg - 1 - pos, len - i);
		for (size_t end = i + n; i < end;) {
			h = (h << 1) + hbr_chunker_gear[data[i++]];
			if (!(h & c->mask_s))
				goto cut;
		}
		pos += n;
	}
	if (pos < c->max) {
		size_t start = i;

		n = min_size(c->max - pos, len - i);
		for (size_t end = i + n; i < end;) {
			h = (h << 1) + hbr_chunker_gear[data[i++]];
			if (!(h & c->mask_l))
				goto cut;
		}
		pos += i - start;
		if (pos == c->max)
			goto cut;
	}
	if (eof) {
		hbr_chunker_reset(c);
		return len;
	}
	c->hash = h;
	c->pos = (uint32_t)pos;
	return 0;
cut:
	hbr_chunker_reset(c);
	return i;
}

int hbr_chunk_id(uint8_t out[HBR_CHUNK_ID_LEN], const void *data, size_t len)
{
	unsigned int n = 0;

	if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) ||
	    n != HBR_CHUNK_ID_LEN)
		return hbr_error_set(HBR_ERROR, "SHA-256 failed");
	return 0;
}

void hbr_chunk_id_hex(char out[HBR_CHUNK_HEX_LEN],
                      const uint8_t id[HBR_CHUNK_ID_LEN])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < HBR_CHUNK_ID_LEN; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
	}
	out[2 * HBR_CHUNK_ID_LEN] = '\0';
}
