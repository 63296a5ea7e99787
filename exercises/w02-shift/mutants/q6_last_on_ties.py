# why: keeps the last of several equally good runs instead of the first
def select_pooled(records, n_val):
    best = {}
    for record in records:
        t = record["held_out"]
        ds = [d for d in range(len(n_val)) if d != t]
        score = sum(n_val[d] * record["val_acc"][d] for d in ds) / sum(n_val[d] for d in ds)
        if t not in best or score >= best[t][0]:
            best[t] = (score, record["run"], record["test_acc"])
    return {t: (run, acc) for t, (_, run, acc) in best.items()}
