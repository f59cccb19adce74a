# Produces the reference values in tests/analysis/test_balance.py. Run from the
# repository root:
#   Rscript tests/analysis/balance_reference.R
# Every number is printed with 15 significant digits. The values in the tests came
# from R 4.2.2 with nnet 7.3-18 (Debian packages r-base-core and r-cran-nnet).
suppressPackageStartupMessages(library(nnet))
options(digits = 15)

show <- function(label, x) cat(sprintf("%-45s %.15g\n", label, x))
tight <- glm.control(epsilon = 1e-14, maxit = 100)

lr <- function(label, full, null) {
  statistic <- deviance(null) - deviance(full)
  df <- df.residual(null) - df.residual(full)
  show(paste(label, "LR"), statistic)
  show(paste(label, "df"), df)
  show(paste(label, "p"), pchisq(statistic, df, lower.tail = FALSE))
  show(paste(label, "logLik full"), logLik(full))
  show(paste(label, "logLik null"), logLik(null))
}

race <- read.csv("tests/data/race.csv")
multi <- read.csv("tests/data/multi.csv")

# Two arms, no strata: treat on south, male, college (coded) and age (numeric).
full <- glm(treat ~ factor(south) + factor(male) + factor(college) + age,
            family = binomial, data = race, control = tight)
null <- glm(treat ~ 1, family = binomial, data = race, control = tight)
lr("race", full, null)

# Strata = south: the south covariate is aliased (NA) and adds no degree of freedom.
full <- glm(treat ~ factor(south) + factor(male) + factor(college) + age,
            family = binomial, data = race, control = tight)
null <- glm(treat ~ factor(south), family = binomial, data = race, control = tight)
lr("race strata south", full, null)

# Strata = state (49 levels, some holding one arm only): R's default control, as the
# fit separates and a tighter criterion sends the estimates off.
full <- glm(treat ~ factor(state) + factor(south) + factor(male) + factor(college) + age,
            family = binomial, data = race)
null <- glm(treat ~ factor(state), family = binomial, data = race)
lr("race strata state", full, null)
show("race strata state aliased south", sum(is.na(coef(full))))

# Missing values: age missing on every tenth row; both fits on the complete rows.
gappy <- race
gappy$age[seq_len(nrow(gappy)) %% 10 == 0] <- NA
kept <- gappy[!is.na(gappy$age), ]
full <- glm(treat ~ factor(male) + age, family = binomial, data = kept, control = tight)
null <- glm(treat ~ 1, family = binomial, data = kept, control = tight)
lr("race age gaps", full, null)
show("race age gaps n", nrow(kept))

# Three arms: multinomial logit, control the base.
multi$treat <- factor(multi$treat, levels = c("control", "race", "affirm"))
full <- multinom(treat ~ factor(south) + factor(male) + factor(college) + age,
                 data = multi, reltol = 1e-14, abstol = 1e-20, maxit = 1000,
                 trace = FALSE)
null <- multinom(treat ~ 1, data = multi, reltol = 1e-14, abstol = 1e-20,
                 maxit = 1000, trace = FALSE)
statistic <- deviance(null) - deviance(full)
show("multi LR", statistic)
show("multi df", full$edf - null$edf)
show("multi p", pchisq(statistic, full$edf - null$edf, lower.tail = FALSE))
show("multi logLik full", -deviance(full) / 2)

# Each covariate on its own.
south <- chisq.test(table(race$south, race$treat), correct = FALSE)
show("race south chi-square", south$statistic)
show("race south p", south$p.value)
college <- chisq.test(table(multi$college, multi$treat), correct = FALSE)
show("multi college chi-square", college$statistic)
show("multi college p", college$p.value)
welch <- t.test(age ~ treat, data = race)
show("race age t (control minus treatment)", welch$statistic)
show("race age df", welch$parameter)
show("race age p", welch$p.value)
anova <- oneway.test(age ~ treat, data = multi, var.equal = FALSE)
show("multi age F", anova$statistic)
show("multi age df2", anova$parameter[["denom df"]])
show("multi age p", anova$p.value)

# Nonresponse: a small 2 x 2 table (Fisher) and a 2 x 3 table (chi-square).
small <- matrix(c(48, 2, 45, 5), nrow = 2, byrow = TRUE)
show("fisher p", fisher.test(small)$p.value)
status <- matrix(c(400, 30, 20, 380, 45, 35), nrow = 2, byrow = TRUE)
test <- chisq.test(status, correct = FALSE)
show("status chi-square", test$statistic)
show("status p", test$p.value)
