package storage

import (
	"fmt"

	"github.com/google/uuid"
)

// ExampleParseKey prints one key of each kind, as the builders make it, laid
// out part by part: the key layout of keys.go, checked.
func ExampleParseKey() {
	node := uuid.MustParse("00112233-4455-6677-8899-aabbccddeeff")
	fact := uuid.MustParse("ffeeddcc-bbaa-9988-7766-554433221100")
	for _, k := range [][]byte{
		metaFormatKey,
		nodeKey(node),
		textKey(node),
		factKey(fact),
		adjKey(Out, node, PredSponsored, fact),
		adjKey(In, node, PredSponsored, fact),
		kindKey(KindOrganization, "qualcomm", node),
		slugKey("qualcomm"),
		nameKey("qualcomm technologies", true, node),
		nameKey("technologies", false, node),
		predKey(PredSponsored, fact),
		valueKey(PredCountry, "US", fact),
		yearKey(PredSponsored, 2023, fact),
		nodeYearKey(KindEvent, 2023, node),
		savedKey("sponsors"),
		guardKey(node),
		revisionKey(node, 2),
		logKey(7),
	} {
		key, err := ParseKey(k)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-8s %s\n", key.Kind, key.Layout())
	}
	// Output:
	// meta     'M' | "format"
	// node     'n' | id(16) 00112233445566778899aabbccddeeff
	// text     'x' | id(16) 00112233445566778899aabbccddeeff
	// fact     'f' | id(16) ffeeddccbbaa99887766554433221100
	// out      'o' | subject(16) 00112233445566778899aabbccddeeff | pred "SPONSORED" 0x00 | fact(16) ffeeddccbbaa99887766554433221100
	// in       'i' | object(16) 00112233445566778899aabbccddeeff | pred "SPONSORED" 0x00 | fact(16) ffeeddccbbaa99887766554433221100
	// kind     'k' | kind "ORGANIZATION" 0x00 | folded name "qualcomm" 0x00 | id(16) 00112233445566778899aabbccddeeff
	// slug     's' | "qualcomm"
	// name     'w' | folded term "^qualcomm technologies" 0x00 | id(16) 00112233445566778899aabbccddeeff
	// name     'w' | folded term "technologies" 0x00 | id(16) 00112233445566778899aabbccddeeff
	// pred     'p' | pred "SPONSORED" 0x00 | fact(16) ffeeddccbbaa99887766554433221100
	// value    'v' | pred "COUNTRY" 0x00 | value "US" 0x00 | fact(16) ffeeddccbbaa99887766554433221100
	// year     'y' | pred "SPONSORED" 0x00 | year(2) 07e7 | fact(16) ffeeddccbbaa99887766554433221100
	// nodeyear 'a' | kind "EVENT" 0x00 | year(2) 07e7 | id(16) 00112233445566778899aabbccddeeff
	// saved    'Q' | "sponsors"
	// guard    'g' | id(16) 00112233445566778899aabbccddeeff
	// revision 'r' | node(16) 00112233445566778899aabbccddeeff | seq(4) 00000002
	// log      'L' | version(8) 0000000000000007
}
