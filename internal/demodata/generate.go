package demodata

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// currency is a currency the demo tenants use, with the country it stands for and its rough
// value in US dollars (millionths), from which exchange rates are derived.
type currency struct {
	code      string
	country   string
	usdMicros int64
}

// currencies returns the demo currencies.
func currencies() []currency {
	return []currency{
		{"USD", "US", 1_000_000}, {"EUR", "DE", 1_085_000}, {"GBP", "GB", 1_270_000}, {"CHF", "CH", 1_120_000},
		{"JPY", "JP", 6_700}, {"CAD", "CA", 740_000}, {"AUD", "AU", 660_000}, {"SEK", "SE", 95_000},
	}
}

// site is a city a facility can be in.
type site struct{ city, country, timezone string }

// sites returns the cities facilities are placed in.
func sites() []site {
	return []site{
		{"Chicago", "US", "America/Chicago"}, {"Hamburg", "DE", "Europe/Berlin"}, {"Rotterdam", "NL", "Europe/Amsterdam"},
		{"Lyon", "FR", "Europe/Paris"}, {"Osaka", "JP", "Asia/Tokyo"}, {"Toronto", "CA", "America/Toronto"},
		{"Manchester", "GB", "Europe/London"}, {"São Paulo", "BR", "America/Sao_Paulo"}, {"Zürich", "CH", "Europe/Zurich"},
		{"Melbourne", "AU", "Australia/Melbourne"},
	}
}

// accountClass is one top-level section of the chart of accounts.
type accountClass struct {
	digit         int
	accountType   string
	normalBalance string
	name          string
	groups        []string
	leaves        int
}

// accountClasses returns the chart of accounts layout: 5 classes, 26 groups and 269 posting
// accounts, 300 accounts in all.
func accountClasses() []accountClass {
	return []accountClass{
		{1, "asset", "debit", "Assets", []string{"Cash and Cash Equivalents", "Accounts Receivable", "Inventory",
			"Prepaid Expenses", "Fixed Assets", "Accumulated Depreciation"}, 75},
		{2, "liability", "credit", "Liabilities", []string{"Accounts Payable", "Accrued Liabilities", "Taxes Payable",
			"Short-term Debt", "Long-term Debt"}, 45},
		{3, "equity", "credit", "Equity", []string{"Share Capital", "Retained Earnings", "Other Reserves"}, 14},
		{4, "revenue", "credit", "Revenue", []string{"Product Sales", "Service Revenue", "Other Income",
			"Sales Returns & Allowances"}, 40},
		{5, "expense", "debit", "Expenses", []string{"Cost of Goods Sold", "Salaries & Wages", "Rent & Utilities", "Travel",
			"Marketing", "Depreciation", "Professional Fees", "Bank Charges"}, 95},
	}
}

// facility is what the generator remembers of a facility while filling its children.
type facility struct {
	id          int64
	workCenters []int64
	aisles      []aisle
}

// aisle is a storage location bins are placed in.
type aisle struct {
	id   int64
	code string
}

// gen generates the rows of one tenant. Every random choice comes from r, in a fixed order, so
// the rows depend only on the seed, the tenant index and, for the sections dated around it,
// today.
type gen struct {
	r      *rand.Rand
	tenant string
	today  time.Time
	rows   *rowSet

	// masterFrom and masterTo bound the creation times of master data (fixed dates).
	masterFrom, masterTo time.Time
	// firstPeriod is the start of the first financial period (January of last year).
	firstPeriod time.Time

	base      currency
	foreign   []currency
	vendors   int
	customers int
	materials int
	postable  []int64
	nextID    [numTables]int64
}

// generateTenant appends the rows of tenant k (1-based) to rows.
func generateTenant(rows *rowSet, seed int64, k int, today time.Time) {
	g := &gen{
		tenant:      TenantID(k),
		today:       today,
		rows:        rows,
		masterFrom:  time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC),
		masterTo:    time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC),
		firstPeriod: time.Date(today.Year()-1, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	// Each section draws from a generator of its own, so the sections built around today
	// (periods, rates, pricing rules, GL entries) leave the others the same on every day.
	sections := []func(){
		g.tenantRow, g.accounts, g.periods, g.stages, g.facilities, g.exchangeRates,
		g.vendorRows, g.customerRows, g.materialRows, g.kits, g.pricingRules, g.glEntries,
	}
	for i, section := range sections {
		g.r = rand.New(rand.NewPCG(uint64(seed), uint64(k)<<8|uint64(i)))
		section()
	}
}

// id returns the next id of table t (ids are per tenant, from 1).
func (g *gen) id(t tableID) int64 {
	g.nextID[t]++
	return g.nextID[t]
}

// between returns a uniform integer in [lo, hi].
func (g *gen) between(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

// between64 returns a uniform integer in [lo, hi].
func (g *gen) between64(lo, hi int64) int64 { return lo + g.r.Int64N(hi-lo+1) }

// chance returns true with probability p.
func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// pick returns one of items, uniformly.
func pick[T any](r *rand.Rand, items ...T) T { return items[r.IntN(len(items))] }

// maybe returns v with probability p, else nil (a NULL).
func (g *gen) maybe(p float64, v any) any {
	if g.chance(p) {
		return v
	}
	return nil
}

// timeIn returns a time in [from, to], with millisecond precision.
func (g *gen) timeIn(from, to time.Time) time.Time {
	ms := to.Sub(from).Milliseconds()
	return from.Add(time.Duration(g.r.Int64N(ms+1)) * time.Millisecond)
}

// stamps returns created_at and updated_at of a master data row (fixed dates, 2019 to mid-2025).
func (g *gen) stamps() (created, updated time.Time) {
	created = g.timeIn(g.masterFrom, g.masterTo)
	updated = created
	if g.chance(0.6) {
		updated = g.timeIn(created, g.masterTo.AddDate(0, 6, 0))
	}
	return created, updated
}

// day returns the date n days after d.
func day(d time.Time, n int) time.Time { return d.AddDate(0, 0, n) }

// companyName returns a made-up company name.
func (g *gen) companyName() string {
	return pick(g.r, "Northern", "Pacific", "Global", "United", "Summit", "Atlas", "Pioneer", "Evergreen",
		"Silverline", "Granite", "Blue River", "Redwood", "Harbor", "Prairie", "Alpine", "Coastal", "Metro",
		"Sterling", "Keystone", "Liberty", "Orion", "Cascade", "Ironwood", "Meridian") + " " +
		pick(g.r, "Industries", "Supply", "Logistics", "Components", "Metals", "Plastics", "Electronics", "Foods",
			"Textiles", "Chemicals", "Machinery", "Packaging", "Tools", "Systems", "Trading", "Distribution") + " " +
		pick(g.r, "Inc.", "LLC", "Ltd.", "GmbH", "S.A.", "B.V.", "AG", "Co.", "Pty Ltd", "S.r.l.")
}

// country returns a country of one of the demo currencies.
func (g *gen) country() string { return pick(g.r, currencies()...).country }

// phone returns a made-up phone number.
func (g *gen) phone() string { return fmt.Sprintf("+1-555-%03d-%04d", g.r.IntN(1000), g.r.IntN(10000)) }

// tenantRow picks the tenant's base currency and its 4 foreign currencies and adds its row.
func (g *gen) tenantRow() {
	all := currencies()
	g.base = all[pick(g.r, 0, 0, 0, 1, 1, 1, 2, 3, 4, 5, 6, 7)]
	var others []currency
	for _, c := range all {
		if c.code != g.base.code {
			others = append(others, c)
		}
	}
	g.r.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	g.foreign = others[:4]
	created, updated := g.stamps()
	g.rows.add(tTenants, g.tenant, g.companyName(), g.base.code, g.base.country, true, created, updated)
}

// accounts adds the 300 accounts of accountClasses, in code order; level 3 accounts are postable.
func (g *gen) accounts() {
	for _, class := range accountClasses() {
		created, updated := g.stamps()
		classCode := fmt.Sprintf("%d000", class.digit)
		g.rows.add(tAccounts, g.tenant, g.id(tAccounts), classCode, class.name, class.accountType, class.normalBalance,
			nil, 1, false, nil, true, "All "+strings.ToLower(class.name), created, updated)
		for gi, group := range class.groups {
			created, updated := g.stamps()
			groupCode := fmt.Sprintf("%d%d00", class.digit, gi+1)
			g.rows.add(tAccounts, g.tenant, g.id(tAccounts), groupCode, group, class.accountType, class.normalBalance,
				classCode, 2, false, nil, true, nil, created, updated)
			leaves := class.leaves / len(class.groups)
			if gi < class.leaves%len(class.groups) {
				leaves++
			}
			for li := 1; li <= leaves; li++ {
				id := g.id(tAccounts)
				g.postable = append(g.postable, id)
				name := fmt.Sprintf("%s - %s %02d", group, pick(g.r, "Domestic", "Foreign", "Intercompany",
					"Region North", "Region South", "Projects", "General", "Adjustments"), li)
				switch {
				case group == "Accounts Receivable" && li == 1:
					name = `Accounts Receivable – "Trade"`
				case group == "Bank Charges" && li == 1:
					name = `Bank Charges \ Card Fees`
				}
				var cur any
				if gi == 0 && class.digit == 1 {
					cur = g.base.code
					if li%3 == 0 {
						cur = g.foreign[li%len(g.foreign)].code
					}
				}
				created, updated := g.stamps()
				g.rows.add(tAccounts, g.tenant, id, fmt.Sprintf("%d%d%02d", class.digit, gi+1, li), name,
					class.accountType, class.normalBalance, groupCode, 3, true, cur, g.chance(0.97),
					g.maybe(0.5, "Posting account for "+strings.ToLower(group)), created, updated)
			}
		}
	}
}

// periods adds 36 monthly periods from January of last year: closed before the current month,
// open for it, future after it.
func (g *gen) periods() {
	current := time.Date(g.today.Year(), g.today.Month(), 1, 0, 0, 0, 0, time.UTC)
	created := g.firstPeriod.AddDate(0, 0, -30).Add(9*time.Hour + time.Duration(g.r.IntN(3600_000))*time.Millisecond)
	for i := range 36 {
		start := g.firstPeriod.AddDate(0, i, 0)
		end := start.AddDate(0, 1, -1)
		status, closedAt, updated := "future", any(nil), created
		switch {
		case start.Before(current):
			status = "closed"
			closed := end.Add(23*time.Hour + time.Duration(g.r.IntN(3600_000))*time.Millisecond)
			closedAt, updated = closed, closed
		case start.Equal(current):
			status = "open"
		}
		g.rows.add(tPeriods, g.tenant, g.id(tPeriods), start.Year(), int(start.Month()),
			start.Format("Jan 2006"), start, end, status, closedAt, created, updated)
	}
}

// stages adds the 6 CRM pipeline stages.
func (g *gen) stages() {
	type stage struct {
		name        string
		probability int
		won, lost   bool
		color       string
	}
	stages := []stage{
		{"Lead", 10, false, false, "#9CA3AF"}, {"Qualified", 25, false, false, "#60A5FA"},
		{"Proposal", 50, false, false, "#A78BFA"}, {"Negotiation", 75, false, false, "#F59E0B"},
		{"Closed Won", 100, true, false, "#10B981"}, {"Closed Lost", 0, false, true, "#EF4444"},
	}
	// Stages were re-ordered after creation: ids do not follow positions.
	ids := g.r.Perm(len(stages))
	for i, s := range stages {
		created, updated := g.stamps()
		g.rows.add(tStages, g.tenant, int64(ids[i]+1), s.name, i+1, s.probability, s.won, s.lost,
			g.maybe(0.8, s.color), created, updated)
	}
}

// facilities adds 2 to 4 facilities, each with its work centers, locations, bins and equipment.
func (g *gen) facilities() {
	all := sites()
	order := g.r.Perm(len(all))
	n := g.between(2, 4)
	for i := range n {
		s := all[order[i]]
		f := facility{id: g.id(tFacilities)}
		kind, label := pick(g.r, "plant", "warehouse", "distribution_center"), ""
		switch kind {
		case "plant":
			label = "Plant"
		case "warehouse":
			label = "Warehouse"
		default:
			label = "Distribution Center"
		}
		created, updated := g.stamps()
		g.rows.add(tFacilities, g.tenant, f.id, fmt.Sprintf("FAC-%02d", f.id), s.city+" "+label, kind, s.city,
			s.country, s.timezone, true, created, updated)
		g.workCenters(&f)
		g.locationsAndBins(&f)
		g.equipment(&f)
	}
}

// workCenters adds 4 to 8 work centers to f.
func (g *gen) workCenters(f *facility) {
	for j := range g.between(4, 8) {
		id := g.id(tWorkCenters)
		f.workCenters = append(f.workCenters, id)
		kind := pick(g.r, "assembly", "machining", "packaging", "quality", "welding", "painting")
		created, updated := g.stamps()
		g.rows.add(tWorkCenters, g.tenant, id, f.id, fmt.Sprintf("WC-%d%02d", f.id, j+1),
			fmt.Sprintf("%s%s Line %d", strings.ToUpper(kind[:1]), kind[1:], j+1), kind,
			cents(g.between64(2_000, 50_000)), cents(g.between64(6_500, 9_900)), cents(g.between64(3_500, 25_000)),
			g.chance(0.9), created, updated)
	}
}

// locationsAndBins adds 4 zones and 11 to 26 aisles to f, then 100 to 250 bins in its aisles.
func (g *gen) locationsAndBins(f *facility) {
	type zone struct {
		id             int64
		code, name     string
		pickable, bins bool
	}
	zones := []zone{
		{code: "RECV", name: "Receiving"}, {code: "STOR", name: "Bulk Storage", bins: true},
		{code: "PICK", name: "Pick Face", pickable: true, bins: true}, {code: "SHIP", name: "Shipping"},
	}
	for i := range zones {
		zones[i].id = g.id(tLocations)
		created, updated := g.stamps()
		g.rows.add(tLocations, g.tenant, zones[i].id, f.id, fmt.Sprintf("F%d-%s", f.id, zones[i].code), zones[i].name,
			"zone", nil, zones[i].pickable, true, created, updated)
	}
	for a := range g.between(11, 26) {
		parent := zones[pick(g.r, 1, 2)]
		id := g.id(tLocations)
		code := fmt.Sprintf("F%d-A%02d", f.id, a+1)
		f.aisles = append(f.aisles, aisle{id: id, code: code})
		created, updated := g.stamps()
		g.rows.add(tLocations, g.tenant, id, f.id, code, fmt.Sprintf("Aisle %02d", a+1), "aisle", parent.id,
			parent.pickable, g.chance(0.95), created, updated)
	}
	lastCountFrom := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for b := range g.between(100, 250) {
		a := f.aisles[g.r.IntN(len(f.aisles))]
		capacity := g.between(5, 50) * 10
		used := g.between(1, capacity-1)
		switch {
		case g.chance(0.2):
			used = 0
		case g.chance(0.1):
			used = capacity
		}
		status := "active"
		switch x := g.r.IntN(100); {
		case x < 5:
			status = "blocked"
		case x < 8:
			status, used = "inactive", 0
		}
		created, updated := g.stamps()
		g.rows.add(tBins, g.tenant, g.id(tBins), f.id, a.id, fmt.Sprintf("%s-B%03d", a.code, b+1), capacity, used,
			status, g.maybe(0.7, g.timeIn(lastCountFrom, g.masterTo.AddDate(0, 6, 0))), created, updated)
	}
}

// equipment adds 8 to 20 machines to f, most of them active and attached to a work center.
func (g *gen) equipment(f *facility) {
	installFrom := time.Date(2012, 1, 1, 0, 0, 0, 0, time.UTC)
	maintFrom := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	nextFrom := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	for range g.between(8, 20) {
		id := g.id(tEquipment)
		kind := pick(g.r, "CNC Mill", "Lathe", "Forklift", "Conveyor", "Press", "Robot Arm", "Compressor",
			"Packaging Machine")
		status := "active"
		switch x := g.r.IntN(100); {
		case x < 15:
			status = "maintenance"
		case x < 20:
			status = "retired"
		}
		var wc any
		if g.chance(0.8) {
			wc = f.workCenters[g.r.IntN(len(f.workCenters))]
		}
		installed := day(installFrom, g.r.IntN(13*365))
		var next any
		if status != "retired" {
			next = day(nextFrom, g.r.IntN(540))
		}
		created, updated := g.stamps()
		g.rows.add(tEquipment, g.tenant, id, f.id, wc, fmt.Sprintf("EQ-%d%03d", f.id, id), fmt.Sprintf("%s #%d", kind, id),
			strings.ToLower(strings.ReplaceAll(kind, " ", "_")),
			g.maybe(0.85, pick(g.r, "Haas", "DMG Mori", "Toyota", "Siemens", "FANUC", "Atlas Copco", "Bosch", "KUKA")),
			status, cents(g.between64(1_500, 10_000)), cents(g.between64(0, 5_000_000)), installed,
			g.maybe(0.9, g.timeIn(maintFrom, g.masterTo.AddDate(0, 6, 0))), next, created, updated)
	}
}

// exchangeRates adds a daily rate from the base currency to each foreign currency for the 90
// days up to today, as a random walk from a realistic starting rate.
func (g *gen) exchangeRates() {
	const days = 90
	for _, to := range g.foreign {
		rate := g.base.usdMicros * 1_000_000 / to.usdMicros
		source := pick(g.r, "ECB", "OANDA", "manual")
		for d := days - 1; d >= 0; d-- {
			date := day(g.today, -d)
			rate += rate * int64(g.between(-300, 300)) / 100_000 // a daily move of at most 0.3%
			created := date.Add(16*time.Hour + time.Duration(g.r.IntN(3600_000))*time.Millisecond)
			g.rows.add(tRates, g.tenant, g.id(tRates), g.base.code, to.code, micros(rate), date, source, created)
		}
	}
}

// vendorRows adds 1,000 to 1,200 vendors; vendors 2, 3, 5 and 8 have awkward names.
func (g *gen) vendorRows() {
	g.vendors = g.between(1000, 1200)
	for i := 1; i <= g.vendors; i++ {
		code := fmt.Sprintf("V%05d", i)
		name := g.companyName()
		country := g.country()
		legal := g.maybe(0.6, name)
		tax := g.maybe(0.7, fmt.Sprintf("%s%09d", country, g.r.IntN(1_000_000_000)))
		email := g.maybe(0.85, "ap."+strings.ToLower(code)+"@vendors.example.com")
		phone := g.maybe(0.8, g.phone())
		cur := g.base.code
		if g.chance(0.3) {
			cur = pick(g.r, g.foreign...).code
		}
		notes := g.maybe(0.15, pick(g.r, "Preferred supplier", "Requires PO for every order",
			"Ships only on pallets", "Call before delivery"))
		switch i {
		case 2:
			name, legal = `Müller & Söhne "GmbH"`, "Müller & Söhne GmbH"
		case 3:
			name, notes = `Back\Slash Tools Ltd.`, "Line one\nLine two\twith a tab"
		case 5:
			name, email, phone = "株式会社サンプル商事", nil, nil
		case 8:
			name = "O'Neil's 🚚 Freight"
		}
		created, updated := g.stamps()
		g.rows.add(tVendors, g.tenant, int64(i), code, name, legal, tax, email, phone, country, cur,
			pick(g.r, 15, 30, 30, 45, 60, 90), cents(g.between64(500_000, 50_000_000)), g.maybe(0.8, g.between(1, 5)),
			g.chance(0.92), notes, created, updated)
	}
}

// customerRows adds 1,000 to 1,200 customers; customers 2, 4 and 6 have awkward values.
func (g *gen) customerRows() {
	g.customers = g.between(1000, 1200)
	for i := 1; i <= g.customers; i++ {
		code := fmt.Sprintf("C%05d", i)
		name := g.companyName()
		email := g.maybe(0.9, "billing."+strings.ToLower(code)+"@customers.example.com")
		phone := g.maybe(0.75, g.phone())
		cur := g.base.code
		if g.chance(0.2) {
			cur = pick(g.r, g.foreign...).code
		}
		limit := g.between64(100_000, 100_000_000)
		balance := g.between64(-limit/20, limit)
		notes := g.maybe(0.1, pick(g.r, "Key account", "Pays late", "Tax exempt", "Consolidated invoicing"))
		switch i {
		case 2:
			name, limit = `Łódź Hurtownia "Premium" Sp. z o.o.`, 1234567890123456
		case 4:
			name = `ACME <Sales> & Co. / "East"`
		case 6:
			name, notes = "Line\u2028Separator Trading", "tab\there, newline\nthere, control \x01 char"
		}
		created, updated := g.stamps()
		g.rows.add(tCustomers, g.tenant, int64(i), code, name, email, phone, g.country(), cur,
			pick(g.r, "enterprise", "mid_market", "smb", "government", "retail"), cents(limit), cents(balance),
			pick(g.r, 15, 30, 30, 45, 60), g.chance(0.93), notes, created, updated)
	}
}

// materialRows adds 2,000 to 2,400 materials; materials 2, 3 and 4 have awkward values.
func (g *gen) materialRows() {
	g.materials = g.between(2000, 2400)
	for i := 1; i <= g.materials; i++ {
		m := pick(g.r,
			[2]string{"Bolt M8", "Fasteners"}, [2]string{"Hex Nut M10", "Fasteners"}, [2]string{"Washer", "Fasteners"},
			[2]string{"Bracket", "Mechanical"}, [2]string{"Pipe 20mm", "Piping"}, [2]string{"Flange", "Piping"},
			[2]string{"Bearing", "Mechanical"}, [2]string{"Gasket", "Piping"}, [2]string{"Valve", "Piping"},
			[2]string{"Hinge", "Mechanical"}, [2]string{"Spring", "Mechanical"}, [2]string{"Cable 2m", "Electrical"},
			[2]string{"Sensor", "Electrical"}, [2]string{"Motor 0.5kW", "Electrical"}, [2]string{"Sheet 1mm", "Raw Material"},
			[2]string{"Bar Stock", "Raw Material"}, [2]string{"Carton", "Packaging"}, [2]string{"Pallet Wrap", "Packaging"})
		item, category := m[0], m[1]
		name := pick(g.r, "Steel", "Aluminium", "Brass", "Copper", "Nylon", "PVC", "Stainless", "Galvanized",
			"Carbon", "Titanium") + " " + item
		cost := g.between64(10_000, 2_500_000_000) // 0.01 to 2,500.00
		price := cost / 10_000 * int64(g.between(120, 200)) / 100
		desc := g.maybe(0.6, fmt.Sprintf("%s, grade %s", name, pick(g.r, "A", "B", "C", "industrial", "food-safe")))
		var notes any = g.maybe(0.1, pick(g.r, "Hazardous: store separately", "Long lead time", "Discontinued by supplier"))
		switch i {
		case 2:
			notes = ":special"
		case 3:
			desc = `10" pipe, 1\2 thread`
		case 4:
			desc = "Ø 12 mm – Edelstahl, 日本製"
		}
		created, updated := g.stamps()
		g.rows.add(tMaterials, g.tenant, int64(i), fmt.Sprintf("MAT-%06d", i), name, desc, category,
			pick(g.r, "EA", "EA", "EA", "KG", "M", "BOX", "L"), micros(cost), cents(max(price, 1)),
			g.maybe(0.8, micros(g.between64(1_000, 250_000_000))), g.chance(0.85), g.chance(0.95), notes, created, updated)
	}
}

// kits adds 18 to 22 kit definitions with 2 to 6 distinct materials each.
func (g *gen) kits() {
	for range g.between(18, 22) {
		id := g.id(tKits)
		created, updated := g.stamps()
		g.rows.add(tKits, g.tenant, id, fmt.Sprintf("KIT-%03d", id),
			fmt.Sprintf("%s Kit %c", pick(g.r, "Starter", "Maintenance", "Repair", "Installation", "Safety", "Upgrade"), 'A'+rune(id%26)),
			g.maybe(0.7, "Bundle of parts sold together"), cents(g.between64(5_000, 2_500_000)), g.chance(0.9), created, updated)
		var used []int64
		for line := 1; line <= g.between(2, 6); line++ {
			m := g.between64(1, int64(g.materials))
			for slices.Contains(used, m) {
				m = g.between64(1, int64(g.materials))
			}
			used = append(used, m)
			g.rows.add(tKitComponents, g.tenant, id, line, m, micros(g.between64(1, 24)*1_000_000+int64(pick(g.r, 0, 0, 500_000))),
				g.chance(0.15), created)
		}
	}
}

// pricingRules adds 45 to 55 pricing rules with validity around today; the first 5 are in force.
func (g *gen) pricingRules() {
	for i := range g.between(45, 55) {
		id := g.id(tPricingRules)
		kind := pick(g.r, "percent_discount", "fixed_price", "markup_percent")
		var value decimal
		var cur any
		switch kind {
		case "fixed_price":
			value, cur = micros(g.between64(1_000, 500_000)*10_000), g.base.code
		default:
			value = micros(g.between64(50, 3_000) * 10_000) // 0.5% to 30%
		}
		from := day(g.today, g.between(-400, 60))
		var to any
		if g.chance(0.7) {
			to = day(from, g.between(30, 400))
		}
		active := g.chance(0.9)
		if i < 5 { // some rules are always in force today
			from, to, active = day(g.today, -30), nil, true
		}
		created := day(from, -g.between(1, 30))
		if created.After(g.today) {
			created = day(g.today, -1)
		}
		created = created.Add(time.Duration(g.r.IntN(24*3600_000)) * time.Millisecond)
		g.rows.add(tPricingRules, g.tenant, id,
			fmt.Sprintf("%s %d", pick(g.r, "Volume discount", "Contract price", "Seasonal promotion", "Markup", "Clearance"), id),
			kind, g.maybe(0.7, g.between64(1, int64(g.materials))), g.maybe(0.4, g.between64(1, int64(g.customers))),
			micros(int64(g.between(1, 100))*1_000_000), value, cur, g.between(1, 100), from, to, active, created, created)
	}
}

// glEntries posts balanced journals dated from the start of the month two months before today's
// up to today, so the previous and the current period both have activity.
func (g *gen) glEntries() {
	start := time.Date(g.today.Year(), g.today.Month()-2, 1, 0, 0, 0, 0, time.UTC)
	span := int(g.today.Sub(start).Hours()/24) + 1
	dates := make([]int, g.between(1200, 1400))
	for i := range dates {
		dates[i] = g.r.IntN(span)
	}
	slices.Sort(dates)
	for j, d := range dates {
		journal := int64(j + 1)
		date := day(start, d)
		period := int64((date.Year()-g.firstPeriod.Year())*12 + int(date.Month()))
		cur := g.base.code
		if g.chance(0.05) {
			cur = pick(g.r, g.foreign...).code
		}
		source := pick(g.r, "AP", "AR", "GL", "INV", "PAY")
		var desc any = g.maybe(0.8, fmt.Sprintf("%s journal %s-%06d", source, date.Format("200601"), journal))
		created := date.Add(7*time.Hour + time.Duration(g.r.IntN(12*3600_000))*time.Millisecond)
		lines := g.between(2, 4)
		total := g.between64(1_000, 5_000_000)
		weights := make([]int64, lines-1)
		var sum int64
		for i := range weights {
			weights[i] = g.between64(1, 100)
			sum += weights[i]
		}
		singleIsDebit := g.chance(0.5)
		remaining := total
		for line := 1; line <= lines; line++ {
			amount := total
			single := line == lines
			if !single {
				amount = total * weights[line-1] / sum
				if line == lines-1 {
					amount = remaining
				}
				remaining -= amount
			}
			debit, credit := amount, int64(0)
			if single != singleIsDebit {
				debit, credit = 0, amount
			}
			account := g.postable[g.r.IntN(len(g.postable))]
			g.rows.add(tGLEntries, g.tenant, g.id(tGLEntries), journal, line, date, period, account,
				cents(debit), cents(credit), cur, source, desc, created)
		}
	}
}
