package rules

import (
	"testing"
	"testing/fstest"

	"github.com/canbao/canbao/configs"
)

func TestShippedPolicyLoads(t *testing.T) {
	b, err := Load(configs.Policy)
	if err != nil {
		t.Fatal(err)
	}
	y, err := b.For(2019)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1500, 2000}
	if len(y.Tiers) != len(want) {
		t.Fatalf("tiers: got %d, want %d", len(y.Tiers), len(want))
	}
	for i, a := range want {
		if y.Tiers[i].Amount != a {
			t.Errorf("tier %d: got %d want %d", i, y.Tiers[i].Amount, a)
		}
	}
	if y.Guidance.ResidentPensionMinAge["male"] != 45 || y.Guidance.ResidentPensionMinAge["female"] != 40 {
		t.Errorf("guidance ages: %+v", y.Guidance)
	}
	if y.Milestones["2019"] != 0.8 {
		t.Errorf("milestone 2019: %v", y.Milestones["2019"])
	}
	// A year without a file falls back to the latest earlier one.
	between, err := b.For(2023)
	if err != nil || between.Year != 2019 {
		t.Fatalf("For(2023): %v %v", between, err)
	}
	if y26, err := b.For(2026); err != nil || y26.Year != 2026 || y26.Deadline != "2026-12-31" {
		t.Fatalf("For(2026): %v %v", y26, err)
	}
	if _, err := b.For(2010); err == nil {
		t.Fatal("For(2010) should fail: no policy that early")
	}
	if _, ok := y.Tier(150); ok {
		t.Fatal("150 is not a tier")
	}
}

func TestBadPolicyIsRejected(t *testing.T) {
	cases := map[string]string{
		"no tiers":       "year: 2020\nguidance: {min_age: 16, max_age: 59, resident_pension_min_age: {male: 45, female: 40}}\n",
		"tiers unsorted": "year: 2020\ntiers: [{amount: 200, subsidy: 1}, {amount: 100, subsidy: 1}]\nguidance: {min_age: 16, max_age: 59, resident_pension_min_age: {male: 45, female: 40}}\n",
		"ages reversed":  "year: 2020\ntiers: [{amount: 100, subsidy: 1}]\nguidance: {min_age: 59, max_age: 16, resident_pension_min_age: {male: 45, female: 40}}\n",
		"no female age":  "year: 2020\ntiers: [{amount: 100, subsidy: 1}]\nguidance: {min_age: 16, max_age: 59, resident_pension_min_age: {male: 45}}\n",
		"bad milestone":  "year: 2020\ntiers: [{amount: 100, subsidy: 1}]\nguidance: {min_age: 16, max_age: 59, resident_pension_min_age: {male: 45, female: 40}}\nmilestones: {\"2020\": 1.5}\n",
		"wrong year":     "year: 2021\ntiers: [{amount: 100, subsidy: 1}]\nguidance: {min_age: 16, max_age: 59, resident_pension_min_age: {male: 45, female: 40}}\n",
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			fsys := fstest.MapFS{"policy/2020.yaml": {Data: []byte(body)}}
			if _, err := Load(fsys); err == nil {
				t.Fatal("expected an error")
			}
		})
	}
}
