# why: calls the tensor method .log_softmax, which is the forbidden library function
def cross_entropy(logits, y):
    log_probs = logits.log_softmax(dim=1)
    return -log_probs[torch.arange(len(y)), y.long()].mean()
