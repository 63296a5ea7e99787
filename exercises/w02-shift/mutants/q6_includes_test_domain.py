# why: pools the validation sets of all domains, including the held-out one
def select_pooled(records, n_val):
    best = {}
    for record in records:
        t = record["held_out"]
        score = sum(n * a for n, a in zip(n_val, record["val_acc"])) / sum(n_val)
        if t not in best or score > best[t][0]:
            best[t] = (score, record["run"], record["test_acc"])
    return {t: (run, acc) for t, (_, run, acc) in best.items()}
