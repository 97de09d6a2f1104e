package importer_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/config"
	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/importer"
	"github.com/canbao/canbao/internal/server/servertest"
)

// secondInstance is another instance's importer on env's database.
func secondInstance(env *servertest.Env) *importer.Importer {
	cfg := env.Config
	return importer.New(env.DB, env.Keyring, cfg.Location(), enrollment.New(cfg.Location(), cfg.Campaigns.AttributionDays), nil)
}

// receiveOnly makes env's API store uploads in chunks of 100 bytes without running them.
func receiveOnly(env *servertest.Env) {
	env.Server.Importer.ReceiveOnly()
	importer.SetChunkBytes(env.Server.Importer, 100)
}

func uploadedID(t *testing.T, w *servertest.Response) int64 {
	t.Helper()
	if w.Code != http.StatusAccepted {
		t.Fatalf("POST: %d %s", w.Code, w.Body)
	}
	var created struct{ ID int64 }
	w.JSON(t, &created)
	return created.ID
}

// TestUploadReceivedByOneInstanceIsRunByAnother: instance A stores the upload in the database
// (in chunks) and runs nothing; instance B, on the same database, takes it up and runs it; the
// chunks are gone when it ends.
func TestUploadReceivedByOneInstanceIsRunByAnother(t *testing.T) {
	env := servertest.New(t)
	receiveOnly(env)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	m := mixedRoster()
	content := csvOf(m.rows)
	id := uploadedID(t, upload(env, admin, "花名册.csv", content, nil, nil))
	wantChunks := (len(content) + 99) / 100
	if wantChunks < 3 {
		t.Fatalf("the file spans %d chunks; the test wants several", wantChunks)
	}
	if n := env.Count(`SELECT COUNT(*) FROM import_chunks WHERE import_id = ?`, id); n != wantChunks {
		t.Fatalf("%d chunks stored, want %d", n, wantChunks)
	}
	if n := env.Count(`SELECT COUNT(*) FROM roster_imports WHERE id = ? AND status = 'queued' AND claimed_by IS NULL AND stored_chunks = ?`, id, wantChunks); n != 1 {
		t.Fatal("the upload is not queued unclaimed")
	}
	b := secondInstance(env)
	ran, err := b.RunOnce(context.Background())
	if err != nil || !ran {
		t.Fatalf("instance B: ran %v, %v", ran, err)
	}
	st := waitDone(t, env, admin, id)
	if st.Status != importer.ImportCompleted || st.RowsDone != m.wantTotal || st.RowsCreated != 5 || st.RowsFailed != m.wantFailed {
		t.Fatalf("status = %+v", st)
	}
	if n := env.Count(`SELECT COUNT(*) FROM residents WHERE source = 'import'`); n != 5 {
		t.Errorf("%d residents", n)
	}
	if n := env.Count(`SELECT COUNT(*) FROM roster_imports WHERE id = ? AND claimed_by = ? AND attempts = 1`, id, b.Instance()); n != 1 {
		t.Error("the import is not recorded as B's")
	}
	if n := env.Count(`SELECT COUNT(*) FROM import_chunks`); n != 0 {
		t.Errorf("%d chunks left after the import", n)
	}
	if ran, err := env.Server.Importer.RunOnce(context.Background()); ran || err != nil {
		t.Fatalf("instance A found something to run: %v, %v", ran, err)
	}
}

// TestExpiredClaimIsTakenOver: an instance died half-way through an upload (it holds the
// claim, some rows are written, one failed row reported). Until its lease runs out nobody
// else runs it; then B does, from the first row: the rows written before are unchanged, not
// created twice, and the report is B's own.
func TestExpiredClaimIsTakenOver(t *testing.T) {
	env := servertest.New(t)
	receiveOnly(env)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	header := []string{"身份证号码", "姓名", "村居", "参保状态"}
	rows := [][]string{header}
	for i := 0; i < 10; i++ {
		rows = append(rows, []string{idAged(30+i, idcard.Male, 100+i), "居民" + string([]rune("甲乙丙丁戊己庚辛壬癸")[i]), "振兴村", "未参保"})
	}
	id := uploadedID(t, upload(env, admin, "花名册.csv", csvOf(rows), nil, nil))
	// The dead instance's work: the first four rows written (through an import of its own).
	b := secondInstance(env)
	if _, err := b.ImportFile(context.Background(), writeTemp(t, csvOf(rows[:5])), "csv", nil); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	clock := time.Now().UTC()
	b.SetLeaseClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
	env.Exec(`UPDATE roster_imports SET status = 'running', claimed_by = 'dead-instance', lease_until = ?, attempts = 1, rows_done = 4 WHERE id = ?`,
		clock.Add(importer.Lease/2), id)
	env.Exec(`INSERT INTO roster_import_errors (import_id, row_no, field, message) VALUES (?, 99, '姓名', '旧的错误')`, id)

	if ran, err := b.RunOnce(context.Background()); ran || err != nil {
		t.Fatalf("B ran an import whose lease is live: %v, %v", ran, err)
	}
	if n := env.Count(`SELECT COUNT(*) FROM roster_imports WHERE id = ? AND claimed_by = 'dead-instance' AND status = 'running'`, id); n != 1 {
		t.Fatal("the live claim changed")
	}
	mu.Lock()
	clock = clock.Add(importer.Lease)
	mu.Unlock()
	if ran, err := b.RunOnce(context.Background()); !ran || err != nil {
		t.Fatalf("B after the lease ran out: %v, %v", ran, err)
	}
	st := waitDone(t, env, admin, id)
	if st.Status != importer.ImportCompleted || st.RowsDone != 10 || st.RowsCreated != 6 || st.RowsUnchanged != 4 || st.RowsFailed != 0 || len(st.Errors) != 0 {
		t.Fatalf("status after the take-over = %+v", st)
	}
	if n := env.Count(`SELECT COUNT(*) FROM residents WHERE source = 'import'`); n != 10 {
		t.Errorf("%d residents, want 10", n)
	}
	if n := env.Count(`SELECT COUNT(*) FROM roster_imports WHERE id = ? AND claimed_by = ? AND attempts = 2`, id, b.Instance()); n != 1 {
		t.Error("the take-over is not recorded")
	}
	if n := env.Count(`SELECT COUNT(*) FROM import_chunks`); n != 0 {
		t.Errorf("%d chunks left", n)
	}
}

// TestUploadThatKeepsDyingFails: after three runs that did not finish, the next claim fails the
// import for good and drops its file.
func TestUploadThatKeepsDyingFails(t *testing.T) {
	env := servertest.New(t)
	receiveOnly(env)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	id := uploadedID(t, upload(env, admin, "花名册.csv", csvOf(mixedRoster().rows), nil, nil))
	env.Exec(`UPDATE roster_imports SET status = 'running', claimed_by = 'dead-instance', lease_until = ?, attempts = 3 WHERE id = ?`,
		time.Now().UTC().Add(-time.Second), id)
	if ran, err := secondInstance(env).RunOnce(context.Background()); !ran || err == nil {
		t.Fatalf("run: %v, %v", ran, err)
	}
	st := waitDone(t, env, admin, id)
	if st.Status != importer.ImportFailed || st.Error == nil || *st.Error != "导入多次中断，未能完成，请重新导入" {
		t.Fatalf("status = %+v", st)
	}
	if n := env.Count(`SELECT COUNT(*) FROM import_chunks`); n != 0 {
		t.Errorf("%d chunks left", n)
	}
}

// TestRefusedUploadsStoreNothing: an upload over the size limit, one that is not what it says,
// and a file that fails (no header) leave no import and no chunk behind (the failed one its
// failed record only).
func TestRefusedUploadsStoreNothing(t *testing.T) {
	env := servertest.New(t, func(c *config.Config) { c.HTTP.MaxUploadBytes = 2000 })
	importer.SetChunkBytes(env.Server.Importer, 100)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	big := make([]byte, 0, 4000)
	big = append(big, "身份证号码,姓名,村居,参保状态\n"...)
	for len(big) < 3000 {
		big = append(big, idAged(40, idcard.Female, len(big)%900)+",某某,振兴村,未参保\n"...)
	}
	if w := upload(env, admin, "big.csv", big, nil, nil); w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized: %d %s", w.Code, w.Body)
	}
	if w := upload(env, admin, "roster.xlsx", []byte("身份证号码,姓名\n"), nil, nil); w.Code != http.StatusBadRequest {
		t.Fatalf("not an xlsx: %d %s", w.Code, w.Body)
	}
	if n := env.Count(`SELECT COUNT(*) FROM roster_imports`) + env.Count(`SELECT COUNT(*) FROM import_chunks`); n != 0 {
		t.Fatalf("%d rows of imports or chunks after refused uploads", n)
	}
	id := uploadedID(t, upload(env, admin, "empty.csv", []byte("\n\n\n"), nil, nil))
	if st := waitDone(t, env, admin, id); st.Status != importer.ImportFailed {
		t.Fatalf("headerless file: %+v", st)
	}
	if n := env.Count(`SELECT COUNT(*) FROM import_chunks`); n != 0 {
		t.Errorf("%d chunks left after a failed import", n)
	}
}

func writeTemp(t *testing.T, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "roster.csv")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestShutdownHandsTheImportBack: an instance stopped mid-import (a rolling restart) hands the
// upload back at once, its file still stored; another instance runs it to the end, and the
// people the first run wrote are not created twice.
func TestShutdownHandsTheImportBack(t *testing.T) {
	env := servertest.New(t)
	receiveOnly(env)
	importer.SetChunkBytes(env.Server.Importer, importer.ChunkBytes)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	rows := [][]string{{"身份证号码", "姓名", "村居", "参保状态"}}
	// Two batches (10,000 rows, then 50): 500 numbers per gender and birth day.
	for i := 0; len(rows) <= 10_050; i++ {
		g := idcard.Female
		if i%2 == 1 {
			g = idcard.Male
		}
		rows = append(rows, []string{idAged(20+i/1000, g, (i/2)%500), "林秀英", "振兴村", "未参保"})
	}
	total := len(rows) - 1
	id := uploadedID(t, upload(env, admin, "花名册.csv", csvOf(rows), nil, nil))
	a := secondInstance(env)
	firstBatch, release := make(chan int, 1), make(chan struct{})
	importer.OnBatch(a, func(_ int64, done int) {
		select {
		case firstBatch <- done:
			<-release
		default:
		}
	})
	ran := make(chan error, 1)
	go func() { _, err := a.RunOnce(context.Background()); ran <- err }()
	var written int
	select {
	case written = <-firstBatch:
	case <-time.After(60 * time.Second):
		t.Fatal("no batch written")
	}
	// The instance stops while the first batch is held; then the batch goes.
	importer.Stop(a)
	close(release)
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-ran; err == nil {
		t.Fatalf("the stopped run says it finished: %+v", waitDone(t, env, admin, id))
	}
	if n := env.Count(`SELECT COUNT(*) FROM roster_imports WHERE id = ? AND status IN ('queued', 'running') AND claimed_by IS NULL AND lease_until IS NULL`, id); n != 1 {
		t.Fatal("the import was not handed back")
	}
	if n := env.Count(`SELECT COUNT(*) FROM import_chunks WHERE import_id = ?`, id); n == 0 {
		t.Fatal("the handed-back import lost its file")
	}
	b := secondInstance(env)
	if ran, err := b.RunOnce(context.Background()); !ran || err != nil {
		t.Fatalf("B: %v, %v", ran, err)
	}
	st := waitDone(t, env, admin, id)
	if st.Status != importer.ImportCompleted || st.RowsDone != total || st.RowsUnchanged < written || st.RowsCreated+st.RowsUnchanged != total {
		t.Fatalf("status = %+v (the first run wrote %d)", st, written)
	}
	if n := env.Count(`SELECT COUNT(*) FROM residents WHERE source = 'import'`); n != total {
		t.Errorf("%d residents, want %d", n, total)
	}
}
