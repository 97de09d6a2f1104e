// Package pii protects residents' personal data: AES-256-GCM encryption at
// rest, HMAC-SHA256 blind indexes for equality lookups, masking for display,
// and redaction of ID and phone numbers from free text.
package pii

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// KeySize is the required length in bytes of every master key.
const KeySize = 32

const (
	nonceSize = 12
	tagSize   = 16

	// HKDF info labels; changing them changes every derived key.
	infoEncrypt = "canbao/pii/v1/aes-256-gcm"
	infoIndex   = "canbao/pii/v1/blind-index/hmac-sha256"
	infoCheck   = "canbao/pii/v1/key-check"
)

// ErrUnknownKeyID is returned by Decrypt when the ciphertext's key id is not in the keyring.
var ErrUnknownKeyID = errors.New("pii: unknown key id")

// ErrDecrypt is returned by Decrypt when the ciphertext is malformed, tampered
// with, bound to another aad, or sealed under a different key.
var ErrDecrypt = errors.New("pii: ciphertext cannot be decrypted (wrong key, wrong aad or tampered)")

// Keyring encrypts personal data with AES-256-GCM and computes HMAC-SHA256 blind indexes.
// It is safe for concurrent use.
type Keyring struct {
	activeID string
	aeads    map[string]cipher.AEAD
	checks   map[string][]byte
	indexKey []byte
}

// NewKeyring builds a keyring from master keys by id; activeID encrypts new data, all ids decrypt.
// Each master key must be exactly 32 bytes. The encryption key and the blind-index key are derived
// from a master key with HKDF-SHA256 (stdlib crypto/hkdf) using distinct info labels. The blind-index
// key always comes from indexKeyID (so rotating the active key does not break lookups).
func NewKeyring(activeID string, masters map[string][]byte, indexKeyID string) (*Keyring, error) {
	if len(masters) == 0 {
		return nil, errors.New("pii: no master keys configured")
	}
	if _, ok := masters[activeID]; !ok {
		return nil, fmt.Errorf("pii: active key id %q is not among the master keys", activeID)
	}
	if _, ok := masters[indexKeyID]; !ok {
		return nil, fmt.Errorf("pii: blind-index key id %q is not among the master keys", indexKeyID)
	}
	k := &Keyring{activeID: activeID, aeads: make(map[string]cipher.AEAD, len(masters)), checks: make(map[string][]byte, len(masters))}
	for id, master := range masters {
		if id == "" {
			return nil, errors.New("pii: master key id must not be empty")
		}
		if len(master) != KeySize {
			return nil, fmt.Errorf("pii: master key %q is %d bytes, want exactly %d", id, len(master), KeySize)
		}
		encKey, err := hkdf.Key(sha256.New, master, nil, infoEncrypt, 32)
		if err != nil {
			return nil, fmt.Errorf("pii: derive encryption key %q: %w", id, err)
		}
		block, err := aes.NewCipher(encKey)
		if err != nil {
			return nil, fmt.Errorf("pii: key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("pii: key %q: %w", id, err)
		}
		k.aeads[id] = aead
		if k.checks[id], err = hkdf.Key(sha256.New, master, nil, infoCheck, 32); err != nil {
			return nil, fmt.Errorf("pii: derive key check value %q: %w", id, err)
		}
		if id == indexKeyID {
			if k.indexKey, err = hkdf.Key(sha256.New, master, nil, infoIndex, 32); err != nil {
				return nil, fmt.Errorf("pii: derive blind-index key %q: %w", id, err)
			}
		}
	}
	return k, nil
}

// DecodeKey parses a base64 (std or URL, padded or not) 32-byte key and says clearly what is wrong.
// Error messages never include the key material.
func DecodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("pii: key is empty; want 32 random bytes in base64 (e.g. `openssl rand -base64 32`)")
	}
	raw := strings.TrimRight(s, "=")
	if pad := len(s) - len(raw); pad > 2 || (pad > 0 && len(s)%4 != 0) {
		return nil, errors.New("pii: key has invalid base64 padding")
	}
	b, err := base64.RawStdEncoding.Strict().DecodeString(raw)
	if err != nil {
		b, err = base64.RawURLEncoding.Strict().DecodeString(raw)
	}
	if err != nil {
		return nil, errors.New("pii: key is not valid base64 (standard or URL alphabet)")
	}
	if len(b) != KeySize {
		return nil, fmt.Errorf("pii: key decodes to %d bytes, want exactly %d (e.g. `openssl rand -base64 32`)", len(b), KeySize)
	}
	return b, nil
}

// ActiveKeyID returns the id of the key used by Encrypt.
func (k *Keyring) ActiveKeyID() string { return k.activeID }

// Encrypt seals plaintext; aad binds the ciphertext to its column (e.g. "resident.id_number").
// Output is nonce(12)||ciphertext||tag; keyID must be stored alongside for Decrypt.
func (k *Keyring) Encrypt(plaintext, aad string) (ct []byte, keyID string, err error) {
	aead := k.aeads[k.activeID]
	out := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	if _, err := rand.Read(out); err != nil {
		return nil, "", fmt.Errorf("pii: read nonce: %w", err)
	}
	return aead.Seal(out, out, []byte(plaintext), []byte(aad)), k.activeID, nil
}

// Decrypt opens a ciphertext produced by Encrypt under keyID with the same aad.
// It returns ErrUnknownKeyID or ErrDecrypt (wrapped) on failure.
func (k *Keyring) Decrypt(ct []byte, keyID, aad string) (string, error) {
	aead, ok := k.aeads[keyID]
	if !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownKeyID, keyID)
	}
	if len(ct) < nonceSize+tagSize {
		return "", fmt.Errorf("%w: ciphertext too short", ErrDecrypt)
	}
	pt, err := aead.Open(nil, ct[:nonceSize], ct[nonceSize:], []byte(aad))
	if err != nil {
		return "", ErrDecrypt
	}
	return string(pt), nil
}

// DecryptRow is Decrypt for a stored row: on failure the error names the column (aad), the
// row id and the key id, never the ciphertext, so that the log says which row is unreadable.
func (k *Keyring) DecryptRow(ct []byte, keyID, aad string, rowID int64) (string, error) {
	pt, err := k.Decrypt(ct, keyID, aad)
	if err != nil {
		return "", fmt.Errorf("decrypt %s of row %d with key id %q: %w", aad, rowID, keyID, err)
	}
	return pt, nil
}

// KeyIDs returns the ids of every key of the ring, sorted.
func (k *Keyring) KeyIDs() []string {
	ids := make([]string, 0, len(k.aeads))
	for id := range k.aeads {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// CheckValue returns the key check value of a key: 32 bytes derived from its master key with
// HKDF under a label of its own, so it reveals nothing of the keys that encrypt or index. Stored
// once per key id, it tells at start whether the configured key is the one the data was
// written with. It returns nil for an unknown key id.
func (k *Keyring) CheckValue(keyID string) []byte {
	return slices.Clone(k.checks[keyID])
}

// BlindIndex returns HMAC-SHA256(indexKey, kind || 0x00 || value), 32 bytes, for equality lookups.
// kind is a fixed label such as "id_number"; normalise value (e.g. via idcard.Parse) first.
func (k *Keyring) BlindIndex(kind, value string) []byte {
	m := hmac.New(sha256.New, k.indexKey)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return m.Sum(nil)
}
