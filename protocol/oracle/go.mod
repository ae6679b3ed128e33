module authobot/oracle

go 1.19
