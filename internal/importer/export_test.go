package importer

// SetChunkBytes sets the size of the chunks im stores uploads in (tests: small ones, so a small
// file spans several).
func SetChunkBytes(im *Importer, n int) { im.chunkBytes = n }
