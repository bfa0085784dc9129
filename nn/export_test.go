package nn

// SetPoisonScratch makes every recycled buffer start as NaN (tests only).
func SetPoisonScratch(on bool) { poisonScratch.Store(on) }
