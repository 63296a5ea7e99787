# why: fingerprints a row by its rounded pixel sum, which many different digits share
def contaminated_rows(X_train, X_test, decimals=4):
    def key(row):
        total = round(float(np.asarray(row, dtype=np.float64).sum()), decimals) + 0.0
        return hashlib.sha256(repr(total).encode()).hexdigest()

    def flipped(row):
        return np.asarray(row).reshape(8, 8)[:, ::-1].reshape(-1)

    seen = {key(r) for r in np.asarray(X_train)}
    return [
        i
        for i, r in enumerate(np.asarray(X_test))
        if key(r) in seen or key(flipped(r)) in seen
    ]
