# why: divides the covariances by n instead of n - 1
def _symmetric_power(A, power):
    values, vectors = torch.linalg.eigh(A)
    return vectors @ torch.diag(values ** power) @ vectors.T


def coral_align(Xs, Xt, eps=1.0):
    eye = torch.eye(Xs.shape[1], dtype=Xs.dtype)
    Cs = torch.cov(Xs.T, correction=0) + eps * eye
    Ct = torch.cov(Xt.T, correction=0) + eps * eye
    return Xs @ _symmetric_power(Cs, -0.5) @ _symmetric_power(Ct, 0.5)
