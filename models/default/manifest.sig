{
  "format": "dermstream-manifest-signature/1",
  "algorithm": "Ed25519",
  "keyId": "ac6224d55db8ff33",
  "signature": "hn6kKO8D+3YbXiembjBNE8BoqIvG7RN6U/OnL6z00xieeqQGxeHzgkZXRb3GnEFZoXKlW+m6td6sKWWMFK69CA==",
  "signedAt": "2026-12-02T11:38:05.617Z"
}
