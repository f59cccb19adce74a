# Produces the reference values in tests/analysis/test_weighted.py and
# tests/analysis/test_contrasts.py (design-based cases). Run from the repository root:
#   Rscript tests/data/weighted_reference.R
# Every number is printed with 15 significant digits. The values in the tests came
# from R 4.2.2 with survey 4.1.1 (Debian packages r-base-core and r-cran-survey).
suppressPackageStartupMessages(library(survey))
options(survey.lonely.psu = "fail", digits = 15)

race <- read.csv("tests/data/race.csv")
# A deterministic synthetic design weight between 1 and 3; the tests compute the same.
race$w <- 1 + (round(race$age * 10) %% 7) / 3

show <- function(label, x) cat(sprintf("%-45s %.15g\n", label, x))

treat_coef <- function(design) {
  fit <- svyglm(y ~ treat, design)
  c(coef(fit)[["treat"]], sqrt(vcov(fit)["treat", "treat"]))
}

report <- function(name, design) {
  overall <- treat_coef(design)
  show(paste(name, "overall estimate"), overall[1])
  show(paste(name, "overall se"), overall[2])
  means <- svyby(~y, ~treat, design, svymean)
  show(paste(name, "mean control"), coef(means)[["0"]])
  show(paste(name, "mean treatment"), coef(means)[["1"]])
  for (level in 0:1) {
    domain <- treat_coef(subset(design, male == level))
    show(paste(name, "male", level, "estimate"), domain[1])
    show(paste(name, "male", level, "se"), domain[2])
  }
  # The male 1 - 0 contrast as the interaction coefficient of one svyglm.
  fit <- svyglm(y ~ treat * factor(male), design)
  estimate <- coef(fit)[["treat:factor(male)1"]]
  se <- sqrt(vcov(fit)["treat:factor(male)1", "treat:factor(male)1"])
  show(paste(name, "male 1 - 0 estimate"), estimate)
  show(paste(name, "male 1 - 0 se"), se)
  show(paste(name, "male 1 - 0 normal p"), 2 * pnorm(-abs(estimate / se)))
}

# (a) weights only, (b) weights and strata, (c) weights, strata and clusters.
design_a <- svydesign(ids = ~1, weights = ~w, data = race)
design_b <- svydesign(ids = ~1, strata = ~south, weights = ~w, data = race)
design_c <- svydesign(ids = ~state, strata = ~south, weights = ~w, data = race)
stopifnot(all(tapply(race$state, race$south, function(s) length(unique(s))) >= 2))
report("(a)", design_a)
show("(a) weighted share of male 1", sum(race$w[race$male == 1]) / sum(race$w))
report("(b)", design_b)
report("(c)", design_c)

# The same contrast under (c) by svyby(covmat = TRUE) and svycontrast. svyglm's
# influence = TRUE fails in survey 4.1.1, so svyby works on the four (male, arm)
# domain means, whose influence functions svymean gives.
by_cell <- svyby(~y, ~treat + male, design_c, svymean, covmat = TRUE)
# Domains in the order (treat, male) = (0, 0), (1, 0), (0, 1), (1, 1).
stopifnot(names(coef(by_cell)) == c("0.0", "1.0", "0.1", "1.1"))
contrast <- svycontrast(by_cell, c(1, -1, -1, 1))
show("(c) svycontrast male 1 - 0 estimate", coef(contrast))
show("(c) svycontrast male 1 - 0 se", SE(contrast))

# (d) design (c) with every tenth count missing: svyglm drops those rows but keeps
# the design's PSUs per stratum.
race_d <- race
race_d$y[seq(10, nrow(race_d), by = 10)] <- NA
design_d <- svydesign(ids = ~state, strata = ~south, weights = ~w, data = race_d)
overall <- treat_coef(design_d)
show("(d) overall estimate", overall[1])
show("(d) overall se", overall[2])

# (e) a different allocation by stratum: every second treated respondent in the south
# (by row number) is left out, so the south's treatment share falls to about a third.
rows <- seq_len(nrow(race))
race_e <- race[!(race$south == 1 & race$treat == 1 & rows %% 2 == 0), ]
design_e <- svydesign(ids = ~state, strata = ~south, weights = ~w, data = race_e)
print(prop.table(table(race_e$south, race_e$treat), 1))

# Within-stratum svyglm on domains of the full design, combined by weight totals.
combine <- function(design, data, keep) {
  total <- sum(data$w[keep])
  estimate <- 0
  variance <- 0
  for (h in 0:1) {
    share <- sum(data$w[keep & data$south == h]) / total
    within <- treat_coef(subset(design, keep & south == h))
    estimate <- estimate + share * within[1]
    variance <- variance + share^2 * within[2]^2
  }
  c(estimate, sqrt(variance))
}
overall <- combine(design_e, race_e, rep(TRUE, nrow(race_e)))
show("(e) stratified overall estimate", overall[1])
show("(e) stratified overall se", overall[2])
for (level in 0:1) {
  domain <- combine(design_e, race_e, race_e$male == level)
  show(paste("(e) stratified male", level, "estimate"), domain[1])
  show(paste("(e) stratified male", level, "se"), domain[2])
}

# The same by one cell-means svyglm and svycontrast with the weight shares as fixed
# coefficients, which also gives the male 1 - 0 contrast with its covariance.
race_e$cell <- interaction(race_e$treat, race_e$male, race_e$south, sep = "_")
design_e <- svydesign(ids = ~state, strata = ~south, weights = ~w, data = race_e)
cells <- svyglm(y ~ 0 + cell, design_e)
contrast_vector <- function(level, sign) {
  v <- setNames(numeric(length(coef(cells))), names(coef(cells)))
  total <- sum(race_e$w[race_e$male == level])
  for (h in 0:1) {
    share <- sum(race_e$w[race_e$male == level & race_e$south == h]) / total
    v[[sprintf("cell1_%d_%d", level, h)]] <- sign * share
    v[[sprintf("cell0_%d_%d", level, h)]] <- -sign * share
  }
  v
}
for (level in 0:1) {
  domain <- svycontrast(cells, contrast_vector(level, 1))
  show(paste("(e) cells male", level, "estimate"), coef(domain))
  show(paste("(e) cells male", level, "se"), SE(domain))
}
contrast <- svycontrast(cells, contrast_vector(1, 1) + contrast_vector(0, -1))
show("(e) stratified male 1 - 0 estimate", coef(contrast))
show("(e) stratified male 1 - 0 se", SE(contrast))
show("(e) stratified male 1 - 0 normal p", 2 * pnorm(-abs(coef(contrast) / SE(contrast))))

# A stratum with a single PSU: the south holds only Texas here. survey stops.
three <- race[race$state %in% c("CA", "NY", "TX"), ]
lonely <- svydesign(ids = ~state, strata = ~south, weights = ~w, data = three)
cat(tryCatch(treat_coef(lonely), error = conditionMessage), "\n")

cat(R.version.string, "; survey", format(packageVersion("survey")), "\n")
