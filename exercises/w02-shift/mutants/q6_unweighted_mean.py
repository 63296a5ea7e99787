# why: averages the training domains' accuracies without weighting them by validation size
def select_pooled(records, n_val):
    best = {}
    for record in records:
        t = record["held_out"]
        accs = [a for d, a in enumerate(record["val_acc"]) if d != t]
        score = sum(accs) / len(accs)
        if t not in best or score > best[t][0]:
            best[t] = (score, record["run"], record["test_acc"])
    return {t: (run, acc) for t, (_, run, acc) in best.items()}
