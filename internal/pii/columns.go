package pii

// Associated data and blind-index kinds of every encrypted column. A ciphertext only decrypts
// with the AAD of the column it was written to, so a value copied to another column is useless.
const (
	AADResidentIDNumber     = "resident.id_number"
	AADResidentPhone        = "resident.phone"
	AADRegistrationIDNumber = "registration.id_number"
	AADRegistrationPhone    = "registration.phone"
	AADSessionKey           = "resident_account.session_key"

	// IndexIDNumber is the blind-index kind of normalised 18-character ID numbers.
	IndexIDNumber = "id_number"
	// IndexPhone is the blind-index kind of 11-digit mobile numbers.
	IndexPhone = "phone"
)
