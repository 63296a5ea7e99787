# why: reads the most significant bit as player 0 (the players come out in reverse order)
def shapley_values(game, p):
    game = np.asarray(game, dtype=float)
    phi = np.zeros(p)
    for s in range(2**p - 1):
        size = bin(s).count("1")
        wt = math.factorial(size) * math.factorial(p - size - 1) / math.factorial(p)
        for j in range(p):
            bit = 1 << (p - 1 - j)
            if not s & bit:
                phi[j] += wt * (game[s | bit] - game[s])
    return phi
