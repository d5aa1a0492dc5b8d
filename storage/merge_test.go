package storage

import "testing"

func TestDatesCompatible(t *testing.T) {
	d := func(s string) *Date {
		if s == "" {
			return nil
		}
		v, err := ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	tests := []struct {
		a, b       string
		compatible bool
		finer      bool // b tells more than a
	}{
		{"", "", true, false},
		{"2023", "", true, false},
		{"", "2023", true, true},
		{"2023", "2023-07", true, true},
		{"2023-07", "2023", true, false},
		{"2023-07", "2023-07-06", true, true},
		{"2023-07", "2023-08", false, false},
		{"2023", "2024", false, false},
		{"2023-07-06", "2023-07-07", false, false},
		{"2023-07-06", "2023-07-06", true, false},
	}
	for _, tt := range tests {
		if got := dateCompatible(d(tt.a), d(tt.b)); got != tt.compatible {
			t.Errorf("dateCompatible(%q, %q) = %v", tt.a, tt.b, got)
		}
		if got := tt.compatible && finer(d(tt.b), d(tt.a)); got != tt.finer {
			t.Errorf("finer(%q, %q) = %v", tt.b, tt.a, got)
		}
	}
}

func TestContradicts(t *testing.T) {
	s, e, e2 := SlugID("a"), SlugID("e"), SlugID("e2")
	tests := []struct {
		name string
		a, b *Fact
		want bool
	}{
		{"two tiers, one event", &Fact{Subject: s, Predicate: PredSponsored, Object: e, Tier: TierSponsor},
			&Fact{Subject: s, Predicate: PredSponsored, Object: e, Tier: TierElitePartner}, true},
		{"two events", &Fact{Subject: s, Predicate: PredSponsored, Object: e, Tier: TierSponsor},
			&Fact{Subject: s, Predicate: PredSponsored, Object: e2, Tier: TierElitePartner}, false},
		{"a negated tier", &Fact{Subject: s, Predicate: PredSponsored, Object: e, Tier: TierStrategicPartner, Negated: true},
			&Fact{Subject: s, Predicate: PredSponsored, Object: e, Tier: TierElitePartner}, false},
		{"two countries", &Fact{Subject: s, Predicate: PredCountry, Value: "US"}, &Fact{Subject: s, Predicate: PredCountry, Value: "CN"}, true},
		{"one country", &Fact{Subject: s, Predicate: PredCountry, Value: "US"}, &Fact{Subject: s, Predicate: PredCountry, Value: "US"}, false},
		{"two places held", &Fact{Subject: s, Predicate: PredHeldIn, Object: e}, &Fact{Subject: s, Predicate: PredHeldIn, Object: e2}, false},
	}
	for _, tt := range tests {
		if got := Contradicts(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: Contradicts = %v", tt.name, got)
		}
	}
}
