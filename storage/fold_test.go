package storage_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"policygraph/storage"
)

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Thượng Hải", "thuong hai"},
		{"Đà Nẵng", "da nang"},
		{"đường", "duong"},
		{"THƯỢNG HẢI", "thuong hai"},
		{"Hội nghị Trí tuệ Nhân tạo Thế giới", "hoi nghi tri tue nhan tao the gioi"},
		{"Ủy ban Cải cách và Phát triển Quốc gia", "uy ban cai cach va phat trien quoc gia"},
		{"  thuong   hai  ", "thuong hai"},
		{"AT&T, Inc.", "at t inc"},
		{"a--b__c", "a b c"},
		{"tab\tnew\nline\u00a0nbsp", "tab new line nbsp"},
		{"“đối tác ưu tú”", "doi tac uu tu"},
		{"A800 / H100", "a800 h100"},
		{"Café Zürich", "cafe zurich"},
		{"北京 2023", "北京 2023"},
		{"!!!", ""},
		{"", ""},
		{"bad\xffbyte", "bad byte"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := storage.Fold(tt.in); got != tt.want {
				t.Errorf("Fold(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSlugify(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Thượng Hải", "thuong-hai"},
		{"World Artificial Intelligence Conference", "world-artificial-intelligence-conference"},
		{"WAIC 2023", "waic-2023"},
		{"  Ant Group (Alibaba)  ", "ant-group-alibaba"},
	}
	for _, tt := range tests {
		if got := storage.Slugify(tt.in); got != tt.want {
			t.Errorf("Slugify(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzFold checks that Fold is idempotent and that its output is valid UTF-8
// with nothing left to lower-case and no leading, trailing or double spaces.
func FuzzFold(f *testing.F) {
	for _, s := range []string{"Thượng Hải", "Đà Nẵng", "AT&T  Inc.", "", "\xff", "ǅ Ω K İ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := storage.Fold(s)
		if again := storage.Fold(out); again != out {
			t.Fatalf("Fold(%q) = %q, but Fold of that = %q", s, out, again)
		}
		if !utf8.ValidString(out) {
			t.Fatalf("Fold(%q) = %q is not valid UTF-8", s, out)
		}
		for _, r := range out {
			if unicode.ToLower(r) != r {
				t.Fatalf("Fold(%q) = %q keeps upper-case %q", s, out, r)
			}
		}
		if strings.Contains(out, "  ") || strings.HasPrefix(out, " ") || strings.HasSuffix(out, " ") {
			t.Fatalf("Fold(%q) = %q has stray spaces", s, out)
		}
	})
}
