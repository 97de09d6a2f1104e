package importer

// SetChunkBytes sets the size of the chunks im stores uploads in (tests: small ones, so a small
// file spans several).
func SetChunkBytes(im *Importer, n int) { im.chunkBytes = n }

// OnBatch makes im call hook after each batch an upload's run writes (it may block the run).
func OnBatch(im *Importer, hook func(id int64, rows int)) { im.batchHook = hook }

// Stop is the first half of Shutdown: it ends im's runs (their contexts are done when it
// returns) without waiting for them.
func Stop(im *Importer) { im.stop() }
