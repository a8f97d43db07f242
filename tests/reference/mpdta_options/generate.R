# Reference output of R `did` for att_gt options (issue #14): anticipation, universal base period,
# unbalanced panels, weights, clustering. Run: Rscript generate.R  (from this folder).
# Packages and commits: SOURCE.md. Every call uses analytic standard errors (bstrap = FALSE, cband = FALSE).
suppressPackageStartupMessages(library(did))
mp <- read.csv("../mpdta/mpdta.csv")
mp$state <- mp$countyreal %/% 1000                 # FIPS: the state part of the county code
mp$w <- exp(mp$lpop)                               # county population (lpop is constant within county)
# Unbalanced copy, reproducibly: counties with code divisible by 13 leave after 2005 (rows 2006-2007
# dropped), counties with code divisible by 17 miss 2004.
drop <- (mp$countyreal %% 13 == 0 & mp$year > 2005) | (mp$countyreal %% 17 == 0 & mp$year == 2004)
mp_unbal <- mp[!drop, ]

out <- list()
fmt <- function(x) sprintf("%.15g", x)
add <- function(scenario, kind, term, estimate, se) {
  out[[length(out) + 1]] <<- data.frame(scenario = scenario, kind = kind, term = term,
                                        estimate = fmt(estimate), se = fmt(se))
}
run <- function(scenario, data, ..., aggs = list(list(type = "simple"), list(type = "group"),
                                                  list(type = "dynamic"), list(type = "calendar"))) {
  a <- att_gt(yname = "lemp", tname = "year", idname = "countyreal", gname = "first.treat", data = data,
              bstrap = FALSE, cband = FALSE, ...)
  add(scenario, "attgt", paste0("ATT(", a$group, ",", a$t, ")"), a$att, a$se)
  add(scenario, "pretest", "W", ifelse(is.null(a$W), NA, a$W), ifelse(is.null(a$Wpval), NA, a$Wpval))
  for (g in aggs) {
    ag <- do.call(aggte, c(list(MP = a, bstrap = FALSE, cband = FALSE), g))
    label <- paste0(g$type, if (length(g) > 1) paste0("[", paste(names(g)[-1], unlist(g[-1]), sep = "=", collapse = ","), "]") else "")
    add(scenario, label, "ATT", ag$overall.att, ag$overall.se)
    if (g$type != "simple") {
      prefix <- c(group = "g=", dynamic = "e=", calendar = "t=")[[g$type]]
      add(scenario, label, paste0(prefix, ag$egt), ag$att.egt, ag$se.egt)
    }
  }
}

run("anticipation1", mp, anticipation = 1)
run("anticipation1_notyet", mp, anticipation = 1, control_group = "notyettreated")
run("universal", mp, base_period = "universal")
run("universal_anticipation1_notyet", mp, base_period = "universal", anticipation = 1,
    control_group = "notyettreated")
run("unbalanced", mp_unbal, allow_unbalanced_panel = TRUE)
run("unbalanced_notyet", mp_unbal, allow_unbalanced_panel = TRUE, control_group = "notyettreated")
run("weights", mp, weightsname = "w")
run("cluster_state", mp, clustervars = c("countyreal", "state"))
run("unbalanced_weights_cluster_universal", mp_unbal, allow_unbalanced_panel = TRUE, weightsname = "w",
    clustervars = c("countyreal", "state"), base_period = "universal")
run("weights_cov_dr", mp, xformla = ~lpop, weightsname = "w")
run("cluster_cov_dr_notyet", mp, xformla = ~lpop, clustervars = c("countyreal", "state"),
    control_group = "notyettreated")
mp_nonever <- mp[mp$first.treat != 0, ]          # no never-treated counties
run("no_never_notyet", mp_nonever, control_group = "notyettreated")
run("no_never_never", mp_nonever, control_group = "nevertreated")
run("max_e", mp, aggs = list(list(type = "simple", max_e = 1), list(type = "group", max_e = 1),
                             list(type = "dynamic", min_e = -2, max_e = 2),
                             list(type = "dynamic", balance_e = 1)))

res <- do.call(rbind, out)
write.csv(res, "ref_options.csv", row.names = FALSE)
writeLines(c(paste("R", R.version$major, R.version$minor, sep = "."),
             paste("did", as.character(packageVersion("did"))),
             paste("DRDID", as.character(packageVersion("DRDID"))),
             paste("BMisc", as.character(packageVersion("BMisc"))),
             paste("rows mpdta", nrow(mp), "unbalanced copy", nrow(mp_unbal))), "versions.txt")
